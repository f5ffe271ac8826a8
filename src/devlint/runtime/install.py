"""Install the harness in the process that runs the user's program.

`install(config)` resolves the device (`auto`: real CUDA, then MPS, else the emulated
accelerator), installs the tracer (and the emulation), pushes the TorchFunctionMode on
this thread and on every thread started later, limits DataLoader iterations
(`--max-batches`) and makes DataLoader worker processes install the same harness, whether
they start by fork, forkserver or spawn (the configuration travels in the environment
variable DEVLINT_HARNESS).
"""

from __future__ import annotations

import json
import os
from typing import Any, Optional

import torch

from devlint.runtime import tracer
from devlint.runtime.tracer import Config, Harness, Hooks, TracerMode

ENV = "DEVLINT_HARNESS"


class NoDevice(RuntimeError):
    """The device asked for is not on this machine."""


def resolve(mode: str) -> str:
    if mode == "auto":
        if tracer.real_mode_available("cuda"):
            return "cuda"
        if tracer.real_mode_available("mps"):
            return "mps"
        return "emulated"
    if mode in ("cuda", "mps") and not tracer.real_mode_available(mode):
        raise NoDevice(
            f"--device {mode}: this machine has no {mode.upper()} device "
            f"(use --device emulated or auto)"
        )
    return mode


_MODE: Optional[TracerMode] = None


def install(config: Config) -> Harness:
    global _MODE
    if tracer.HARNESS is not None:
        return tracer.HARNESS
    mode = resolve(config.mode)
    harness = Harness(config, mode)
    tracer.HARNESS = harness
    os.environ[ENV] = json.dumps(config._asdict())
    if mode == "emulated":
        from devlint.runtime import emulation

        hooks = emulation.install(harness, config.device_count)
        tf_mode: TracerMode = emulation.EmulationMode(harness, hooks)
    else:
        hooks = Hooks(harness)
        hooks.install()
        tf_mode = TracerMode(harness)
    harness.hooks = hooks  # type: ignore[attr-defined]
    _patch_dataloader(hooks, config)
    tf_mode.__enter__()
    _MODE = tf_mode
    tracer.thread_bootstrap_patch(_enter_mode)
    return harness


def _enter_mode() -> None:
    if _MODE is not None:
        _MODE.__enter__()


def _patch_dataloader(hooks: Hooks, config: Config) -> None:
    from torch.utils.data import dataloader
    from torch.utils.data._utils import worker

    if config.max_batches > 0:
        limit = config.max_batches
        base = dataloader._BaseDataLoaderIter
        orig_next = base.__next__

        def __next__(self):
            n = self.__dict__.get("_devlint_batches", 0)
            if n >= limit:
                raise StopIteration
            self.__dict__["_devlint_batches"] = n + 1
            return orig_next(self)

        hooks.patch(base, "__next__", __next__)
    if not hasattr(worker, "_devlint_orig_worker_loop"):
        worker._devlint_orig_worker_loop = worker._worker_loop  # type: ignore[attr-defined]
    hooks.patch(worker, "_worker_loop", worker_loop)


def worker_loop(*args: Any, **kwargs: Any) -> Any:
    """DataLoader worker entry: install the harness (spawn/forkserver), then run."""
    from torch.utils.data._utils import worker

    if tracer.HARNESS is None:
        raw = os.environ.get(ENV)
        if raw:
            try:
                install(Config(**json.loads(raw)))
            except Exception:
                pass
    orig = getattr(worker, "_devlint_orig_worker_loop", None)
    if orig is None or orig is worker_loop:
        raise RuntimeError("devlint: the DataLoader worker loop is missing")
    return orig(*args, **kwargs)


def notes() -> list[str]:
    if tracer.HARNESS is not None and tracer.HARNESS.mode == "emulated":
        from devlint.runtime import emulation

        return list(emulation.EMU.notes)
    return []


_ = torch
