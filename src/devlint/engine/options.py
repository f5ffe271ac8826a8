"""What the analysis of one file depends on besides its source."""

from __future__ import annotations

from dataclasses import dataclass

from devlint.roles import SCRIPT


@dataclass(frozen=True)
class EngineOptions:
    """`device_names`: extra names that hold the target device (`device-names`);
    `gpu_guards`: decorators and markers under which code runs only where an accelerator
    is (`gpu-guards`); `role`: `"library"` (public functions are called by anyone, with
    tensors on any device: the open world) or `"script"` (callers are all in sight);
    `notebook`: the source is a notebook's code cells; `test_suite`: the file belongs to
    a test suite (`roles.in_test_suite`), which runs on CI's CPU machines; `package`: the
    package relative imports start from (`devlint.project`); `project`: what other
    modules of the project say about the names this one imports, as sorted
    `(qualified name, json)` pairs (`engine.summary`)."""

    device_names: tuple[str, ...] = ()
    gpu_guards: tuple[str, ...] = ()
    role: str = SCRIPT
    test_suite: bool = False
    notebook: bool = False
    package: str = ""
    project: tuple[tuple[str, str], ...] = ()
