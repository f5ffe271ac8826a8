"""Install the harness in the process that runs the user's program.

`install(config)` resolves the device (`auto`: real CUDA, then MPS, else the emulated
accelerator), installs the tracer (and the emulation), pushes the TorchFunctionMode on
this thread and on every thread started later, limits DataLoader iterations
(`--max-batches`) and makes DataLoader worker processes install the same harness, whether
they start by fork, forkserver or spawn (the configuration travels in the environment
variable DEVLINT_HARNESS), and gives the program's warnings back their own location
(`attribute_warnings`).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import warnings
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
    from devlint.runtime import distributed

    distributed.spawn_patches(hooks)
    distributed.started_process_patches(hooks)
    if mode == "emulated":
        distributed.emulation_patches(hooks, emulation.note)
    attribute_warnings(hooks)
    tf_mode.__enter__()
    _MODE = tf_mode
    tracer.thread_bootstrap_patch(_enter_mode, _leave_mode)
    return harness


_DEVLINT_DIR = os.path.dirname(os.path.dirname(os.path.realpath(tracer.__file__)))
_TORCH_DIR = os.path.dirname(os.path.realpath(torch.__file__))
_INTERNAL: dict[str, bool] = {}


def _harness_file(filename: str) -> bool:
    """A file of devlint itself, or torch's `overrides.py` (`handle_torch_function`,
    which a TorchFunctionMode puts on the stack of every torch function written in
    Python): frames a plain run does not have."""
    real = os.path.realpath(filename)
    return real.startswith(_DEVLINT_DIR + os.sep) or real == os.path.join(
        _TORCH_DIR, "overrides.py"
    )


def _internal(filename: str) -> bool:
    """devlint or torch: frames between a warning and the code that caused it."""
    cached = _INTERNAL.get(filename)
    if cached is None:
        real = os.path.realpath(filename)
        cached = real.startswith((_DEVLINT_DIR + os.sep, _TORCH_DIR + os.sep))
        _INTERNAL[filename] = cached
    return cached


def attribute_warnings(hooks: Hooks) -> None:
    """Make the program's warnings point at the program, not at the harness.

    A warning's location is computed from the stack: `stacklevel` frames up for
    `warnings.warn`, the innermost Python frame for a warning from C++ (`TORCH_WARN`).
    The harness adds frames (the patched factories and moves, the TorchFunctionMode, the
    emulation's `__torch_dispatch__`, torch's `handle_torch_function`), so `torch.tensor(t)`
    or `F.softmax(x)` without `dim` would warn "at devlint/runtime/tracer.py".  Every
    warning is shown through `warnings._showwarnmsg` (Python's and C's `warn` alike); when
    its location is such a frame, it is issued again from the first frame outside devlint
    and torch (where a plain run puts it: the code that called torch), with that module's
    registry, so filters (`ignore`, `error`, `module=`) and the once-per-location rule
    apply to the program's line as they do without the harness."""
    orig = warnings._showwarnmsg  # type: ignore[attr-defined]

    def _showwarnmsg(msg: warnings.WarningMessage) -> None:
        if not _harness_file(str(msg.filename)):
            return orig(msg)
        frame: Any = sys._getframe(1)
        while frame is not None and not _harness_file(frame.f_code.co_filename):
            frame = frame.f_back
        while frame is not None and _internal(frame.f_code.co_filename):
            frame = frame.f_back
        if frame is None:
            return orig(msg)
        # The first attempt was registered at the harness's line: forget it there, or the
        # same warning from another line of the program would be swallowed next time.
        for name, module in list(sys.modules.items()):
            if name.startswith("devlint.runtime") or name == "torch.overrides":
                with contextlib.suppress(AttributeError, TypeError):
                    vars(module).pop("__warningregistry__", None)
        text = str(msg.message)
        with contextlib.suppress(AttributeError, TypeError):
            warnings.onceregistry.pop((text, msg.category), None)  # type: ignore[attr-defined]
        globals_ = frame.f_globals
        warnings.warn_explicit(
            msg.message,
            msg.category,
            frame.f_code.co_filename,
            frame.f_lineno,
            module=globals_.get("__name__", "<unknown>"),
            registry=globals_.setdefault("__warningregistry__", {}),
            module_globals=globals_ if _has_loader(globals_) else None,
            source=msg.source,
        )
        return None

    hooks.patch(warnings, "_showwarnmsg", _showwarnmsg)
    # A warning first placed at a harness frame must reach `_showwarnmsg` to be placed
    # again: the filters meant for the program (`ignore::DeprecationWarning` except in
    # `__main__`, a user's `module=` filter) are applied to its real location there.
    warnings.filterwarnings("default", module=r"(devlint\.runtime|torch\.overrides)(\.|\Z)")


def _has_loader(globals_: dict) -> bool:
    """Whether `warn_explicit` may be given these globals to read the source line.  From
    Python 3.12 it raises `ValueError: Module globals is missing a __spec__.loader` for a
    script run with `__spec__` and `__loader__` both None (a real GPU run of a fixture died
    so, at a CUDA legacy constructor's deprecation warning); the line is then read from the
    file instead."""
    if globals_.get("__loader__") is not None:
        return True
    spec = globals_.get("__spec__")
    return spec is not None and getattr(spec, "loader", None) is not None


def _enter_mode() -> None:
    if _MODE is not None:
        _MODE.__enter__()


def _leave_mode() -> None:
    if _MODE is not None:
        _MODE.__exit__(None, None, None)


def _patch_dataloader(hooks: Hooks, config: Config) -> None:
    """Tag each batch with the loop that took it (tensors that come from worker processes
    have lost their provenance on the way), stop after --max-batches, and make worker
    processes install the harness."""
    import sys

    from torch import nn
    from torch.utils.data import dataloader
    from torch.utils.data._utils import worker

    from devlint.runtime._sites import innermost_user_site

    limit = config.max_batches
    BATCHES.limit = limit
    base = dataloader._BaseDataLoaderIter
    orig_next = base.__next__

    def __next__(self):
        n = self.__dict__.get("_devlint_batches", 0)
        if n == 0:
            BATCHES.loops += 1
        if limit > 0 and n >= limit:
            if not self.__dict__.get("_devlint_bounded"):
                self.__dict__["_devlint_bounded"] = True
                BATCHES.bounded += 1
            raise StopIteration
        self.__dict__["_devlint_batches"] = n + 1
        batch = orig_next(self)
        site = innermost_user_site(sys._getframe(1))
        if site is not None:
            _tag(batch, tracer.Prov(site), 0)
        return batch

    hooks.patch(base, "__next__", __next__)
    if not hasattr(worker, "_devlint_orig_worker_loop"):
        worker._devlint_orig_worker_loop = worker._worker_loop  # type: ignore[attr-defined]
    hooks.patch(worker, "_worker_loop", worker_loop)

    orig_register = nn.Module.register_parameter

    def register_parameter(self, name, param):
        orig_register(self, name, param)
        if param is not None and tracer.get_prov(param) is None:
            site = innermost_user_site(sys._getframe(1))
            tracer.set_prov(param, tracer.Prov(site))

    hooks.patch(nn.Module, "register_parameter", register_parameter)


def _tag(obj: Any, prov: tracer.Prov, depth: int) -> None:
    if isinstance(obj, torch.Tensor):
        if tracer.get_prov(obj) is None:
            tracer.set_prov(obj, prov)
    elif depth < 4 and isinstance(obj, (list, tuple)):
        for v in obj:
            _tag(v, prov, depth + 1)
    elif depth < 4 and isinstance(obj, dict):
        for v in obj.values():
            _tag(v, prov, depth + 1)


def worker_loop(*args: Any, **kwargs: Any) -> Any:
    """DataLoader worker entry: install the harness (spawn/forkserver), then run."""
    from torch.utils.data._utils import worker

    if tracer.HARNESS is None:
        raw = os.environ.get(ENV)
        if raw:
            with contextlib.suppress(Exception):
                install(Config(**json.loads(raw)))
    orig = getattr(worker, "_devlint_orig_worker_loop", None)
    if orig is None or orig is worker_loop:
        raise RuntimeError("devlint: the DataLoader worker loop is missing")
    return orig(*args, **kwargs)


class _Batches:
    """What `--max-batches` did in this process: DataLoader loops started, loops cut."""

    limit = 0
    loops = 0
    bounded = 0


BATCHES = _Batches()


def max_batches_note() -> Optional[str]:
    """What `--max-batches N` bounded, said plainly: it bounds DataLoader loops only, so a
    program that takes no batch from a DataLoader (full-batch training, batches sliced
    by hand) runs its loops in full, and the report says so."""
    limit = BATCHES.limit
    if limit <= 0:
        return None
    if BATCHES.loops == 0:
        return (
            f"--max-batches {limit} had nothing to bound: the program took no batch from a "
            "torch DataLoader, so its loops ran in full (bound them with the program's own "
            "options, e.g. --epochs, or --timeout)"
        )
    loops = f"{BATCHES.loops} DataLoader loop{'s' if BATCHES.loops != 1 else ''}"
    if BATCHES.bounded == 0:
        return f"--max-batches {limit} stopped no loop: each of the {loops} ended by itself"
    return f"--max-batches {limit} stopped {BATCHES.bounded} of the {loops} after {limit} batches"


def notes() -> list[str]:
    """The notes of this process's run, for the report."""
    out: list[str] = []
    harness = tracer.HARNESS
    if harness is not None and harness.mode == "emulated":
        from devlint.runtime import emulation

        out.extend(emulation.EMU.notes)
    elif harness is not None and harness.config.device_count > 1:
        out.append(
            f"--devices {harness.config.device_count} applies to the emulated accelerator: "
            f"this run used {harness.mode}, with the devices the machine has"
        )
    text = max_batches_note()
    if text is not None:
        out.append(text)
    return out
