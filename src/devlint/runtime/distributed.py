"""Distributed training under the harness: one process per (emulated) device.

A DDP program starts one process per device, with `torch.multiprocessing.spawn` (mp.spawn)
or with `torchrun`.  Every such process runs the program's code, so each must run under the
harness, record its device errors in the run's events file, and say which of its lines ran
and how it ended:

* **mp.spawn**: `torch.multiprocessing.spawn._wrap`, the function each worker process runs,
  is replaced by `spawn_wrap`, which installs the harness (the configuration travels in
  the environment, as for DataLoader workers), records the worker's lines and its end in
  `<results>.worker.<pid>`, then runs the original.  It is pickled by reference, so a
  worker started by spawn or forkserver imports it from devlint.
* **torchrun** (`python -m torch.distributed.run`): the launcher runs without the harness
  (it runs none of the program's code), and the worker command it builds,
  `python -u train.py ARGS`, becomes `python -u -m devlint.runtime.child --worker SPEC
  train.py ARGS` (`launcher_patches`).
* **The backend** (emulated accelerator only): the emulated devices are the CPU, where
  NCCL does not exist, so `init_process_group("nccl")` (or `"cuda:nccl"`, or a backend
  left to its default) runs on gloo, and the report says so in a note.  `is_nccl_available()`
  answers True, as on a GPU machine.  Collectives give gloo the CPU values of emulated
  tensors (it writes into them in place), and DDP's bucketed broadcast of the module's
  state likewise.  A collective given a CPU tensor in a process group that asked for NCCL
  alone raises NCCL's error ("No backend type associated with device type cpu"), as on a
  GPU machine, recorded as a device event.

The parent (`devlint.runtime.confirm`) merges the workers' results: their lines count as
lines that ran, their notes are the report's, and a worker that died of a recorded device
error means the run stopped on a device error (mp.spawn and torchrun then fail in the main
process with an error of their own, which is no crash of the program).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import os
import sys
import threading
from typing import Any, Callable, Optional

WORKER_SUFFIX = ".worker."
_SPAWN = "torch.multiprocessing.spawn"


# --- the workers' results --------------------------------------------------------------------


class Worker:
    """One worker process's record: its lines (from a recorder started at its start), how
    it ended, and its notes; written to `<results>.worker.<pid>` when it ends."""

    def __init__(self, results_path: str, rank: Optional[int]) -> None:
        from devlint.runtime.coverage import LineRecorder

        self.path = f"{results_path}{WORKER_SUFFIX}{os.getpid()}" if results_path else ""
        self.rank = rank
        self.result: dict[str, Any] = {"status": "ok", "exit_code": 0, "exception": None}
        self.recorder = LineRecorder()
        self.recorder.start(probes=False)

    def failed(self, exc: BaseException) -> None:
        """The worker's function raised `exc` (the worker then exits with status 1)."""
        from devlint.runtime.child import exception_record

        self.result.update(status="exception", exit_code=1, exception=exception_record(exc))

    def write(self) -> None:
        from devlint.runtime import tracer
        from devlint.runtime.install import notes

        self.recorder.stop()
        if not self.path:
            return
        harness = tracer.HARNESS
        self.result.update(
            rank=self.rank,
            pid=os.getpid(),
            lines=self.recorder.snapshot(),
            notes=notes(),
            device=harness.mode if harness is not None else None,
            device_count=harness.config.device_count if harness is not None else None,
            torch=sys.modules["torch"].__version__ if "torch" in sys.modules else None,
        )
        if harness is not None:
            from devlint.runtime.events import event_key

            self.result["event_counts"] = [
                {"key": list(event_key(e)), "count": e.get("count", 1)}
                for e in harness.sink.events
                if e.get("pid") == os.getpid()
            ]
        write_json(self.path, self.result)


def write_json(path: str, data: dict[str, Any]) -> None:
    """Write `path` whole or not at all (the parent may read it while a worker dies)."""
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, default=str)
    os.replace(tmp, path)


def _install_from_environment() -> Any:
    """The harness of this (worker) process: the one inherited by fork, else installed
    from the configuration in the environment."""
    from devlint.runtime import tracer
    from devlint.runtime.install import ENV, install

    if tracer.HARNESS is None:
        raw = os.environ.get(ENV)
        if raw:
            install(tracer.Config(**json.loads(raw)))
    return tracer.HARNESS


def spawn_wrap(fn: Callable[..., Any], i: int, args: tuple, error_file: str) -> None:
    """`torch.multiprocessing.spawn._wrap` under the harness: worker `i` of mp.spawn."""
    spawn = sys.modules.get(_SPAWN)
    if spawn is None:
        import importlib

        spawn = importlib.import_module(_SPAWN)
    orig = getattr(spawn, "_devlint_orig_wrap", None) or spawn._wrap
    if orig is spawn_wrap:
        raise RuntimeError("devlint: the original torch.multiprocessing.spawn._wrap is missing")
    harness = _install_from_environment()
    results = harness.config.results_path if harness is not None else ""
    worker = Worker(results, i)

    def run(index: int, *rest: Any) -> Any:
        try:
            return fn(index, *rest)
        except BaseException as exc:
            worker.failed(exc)
            raise

    try:
        orig(run, i, args, error_file)
    finally:
        worker.write()


def spawn_patches(hooks: Any) -> None:
    """Make mp.spawn's workers run `spawn_wrap` (every device mode)."""
    try:
        import importlib

        spawn = importlib.import_module(_SPAWN)
    except ImportError:
        return
    if not hasattr(spawn, "_wrap"):
        return
    if not hasattr(spawn, "_devlint_orig_wrap"):
        spawn._devlint_orig_wrap = spawn._wrap  # type: ignore[attr-defined]
    hooks.patch(spawn, "_wrap", spawn_wrap)


# --- processes started by spawn or forkserver: the harness before the main module -------------
#
# A process started by the spawn method (mp.spawn's default; DataLoader workers or a Pool
# with `multiprocessing_context="spawn"`) runs `spawn_main`, which first runs the parent's
# main module again (as `__mp_main__`: everything outside `if __name__ == "__main__":`),
# and only then unpickles the function to run (`spawn_wrap`, DataLoader's worker loop).  A
# forkserver's server process likewise imports the main module before it forks workers.
# Without the harness there, that top-level code saw no accelerator
# (`torch.cuda.is_available()` False, `device_count()` 0, a module-level `device` the CPU)
# and its tensors had no provenance, so `x_on_rank + TABLE` with a module-level CPU `TABLE`
# ran clean in the worker where a GPU raises.  The command line of those processes gets a
# prelude that installs the harness (from DEVLINT_HARNESS) before `spawn_main` runs.

_CHILD_ENTRIES = (
    "from multiprocessing.spawn import spawn_main",
    "from multiprocessing.forkserver import main",
)
_CHILD_PRELUDE = (
    "try:\n"
    "    from devlint.runtime.distributed import install_in_started_process\n"
    "    install_in_started_process()\n"
    "except Exception:\n"
    "    pass\n"
)


def install_in_started_process() -> None:
    """The prelude of a spawn or forkserver process: the run's harness, first."""
    _install_from_environment()


def with_prelude(args: Any) -> list[Any]:
    """`args` of a new interpreter, with the prelude before a spawn/forkserver entry."""
    out = list(args)
    for i in range(len(out) - 1):
        code = out[i + 1]
        if out[i] == "-c" and isinstance(code, str) and code.startswith(_CHILD_ENTRIES):
            out[i + 1] = _CHILD_PRELUDE + code
            break
    return out


def started_process_patches(hooks: Any) -> None:
    """Give the processes that multiprocessing starts by spawn or forkserver the prelude
    (`multiprocessing.util.spawnv_passfds` starts both on POSIX; the resource tracker it
    also starts runs no program code and is left alone)."""
    from multiprocessing import util

    orig = getattr(util, "spawnv_passfds", None)
    if orig is None:
        return

    @functools.wraps(orig)
    def spawnv_passfds(path: Any, args: Any, passfds: Any) -> Any:
        return orig(path, with_prelude(args), passfds)

    hooks.patch(util, "spawnv_passfds", spawnv_passfds)


# --- torchrun ----------------------------------------------------------------------------------

LAUNCHERS = ("torch.distributed.run", "torch.distributed.launch")


def launcher_patches(spec_path: str, notes: list[str]) -> None:
    """In the torchrun launcher (which runs without the harness): workers run the program
    through `devlint.runtime.child --worker SPEC`, which installs the harness first."""
    from torch.distributed import run

    orig = run.config_from_args

    @functools.wraps(orig)
    def config_from_args(args: Any) -> Any:
        config, cmd, cmd_args = orig(args)
        if not _is_this_python(cmd):
            notes.append(
                f"torchrun runs {cmd!r} (--no-python): its workers are not under the harness"
            )
            return config, cmd, cmd_args
        flags: list[str] = []
        rest = list(cmd_args)
        while rest and rest[0].startswith("-") and rest[0] not in ("-m", "-c", "-"):
            flags.append(rest.pop(0))
        return config, cmd, [*flags, "-m", "devlint.runtime.child", "--worker", spec_path, *rest]

    run.config_from_args = config_from_args


def _is_this_python(cmd: Any) -> bool:
    if not isinstance(cmd, str):
        return False
    if cmd == sys.executable:
        return True
    with contextlib.suppress(OSError):
        return os.path.samefile(cmd, sys.executable)
    return os.path.basename(cmd).startswith("python")


# --- the backend and the collectives, under the emulated accelerator ---------------------------


class _State:
    """The backend each process group asked for (by group), for the NCCL device check."""

    nccl_only: set[int] = set()
    default_nccl_only: bool = False


STATE = _State()

# Collectives of torch.distributed whose tensor arguments gloo reads or writes in place.
COLLECTIVES = (
    "all_reduce",
    "all_reduce_coalesced",
    "reduce",
    "broadcast",
    "all_gather",
    "all_gather_single",
    "all_gather_into_tensor",
    "_all_gather_base",
    "all_gather_coalesced",
    "gather",
    "scatter",
    "reduce_scatter",
    "reduce_scatter_single",
    "reduce_scatter_tensor",
    "_reduce_scatter_base",
    "all_to_all",
    "all_to_all_single",
    "send",
    "recv",
    "isend",
    "irecv",
)


def gloo_backend(backend: Any) -> tuple[Any, bool]:
    """(the backend to create, whether NCCL was asked for): `nccl` becomes `gloo`, in a
    device map (`cpu:gloo,cuda:nccl`) too.  None (the default: NCCL for CUDA on a GPU
    machine) becomes gloo."""
    if backend is None:
        return "gloo", True
    text = str(backend)
    low = text.lower()
    if "nccl" not in low:
        return backend, False
    if ":" not in low:
        return "gloo", True
    parts = []
    for item in low.split(","):
        device, _, name = item.partition(":")
        parts.append(f"{device.strip()}:{'gloo' if name.strip() == 'nccl' else name.strip()}")
    return ",".join(parts), True


def _nccl_only(backend: Any) -> bool:
    """The program's backend is NCCL for every device (no CPU backend beside it)."""
    if backend is None:
        return False  # the default pairs gloo for the CPU with NCCL for CUDA
    low = str(backend).lower()
    if ":" not in low:
        return low == "nccl"
    return all(item.partition(":")[2].strip() == "nccl" for item in low.split(","))


def emulation_patches(hooks: Any, note: Callable[[str], None]) -> None:
    """Gloo under every backend the program asks for, and collectives on the CPU values of
    emulated tensors (see the module's docstring)."""
    try:
        import torch.distributed as dist
    except ImportError:
        return
    if not dist.is_available():
        return
    from torch.distributed import distributed_c10d as c10d

    modules = (dist, c10d)

    def patch_both(name: str, value: Any) -> None:
        for module in modules:
            if getattr(module, name, None) is not None:
                hooks.patch(module, name, value)

    orig_init = c10d.init_process_group

    @functools.wraps(orig_init)
    def init_process_group(backend: Any = None, *args: Any, **kwargs: Any) -> Any:
        new, asked_nccl = gloo_backend(backend)
        if asked_nccl:
            what = f"the {backend} backend" if backend is not None else "the default backend"
            note(
                f"torch.distributed: the program asked for {what} (NCCL on a GPU machine); "
                "the emulated accelerator is the CPU, so it ran on gloo"
            )
        STATE.default_nccl_only = _nccl_only(backend)
        device_id = kwargs.get("device_id")
        if device_id is not None:
            # Eager NCCL initialisation on one device: gloo has none to do.
            kwargs["device_id"] = None
        return orig_init(new, *args, **kwargs)

    patch_both("init_process_group", init_process_group)
    orig_new_group = c10d.new_group

    @functools.wraps(orig_new_group)
    def new_group(*args: Any, **kwargs: Any) -> Any:
        backend = kwargs.get("backend")
        if len(args) >= 3:
            backend = args[2]
            args = (*args[:2], gloo_backend(backend)[0], *args[3:])
        elif backend is not None:
            kwargs["backend"] = gloo_backend(backend)[0]
        group = orig_new_group(*args, **kwargs)
        if _nccl_only(backend) or (backend is None and STATE.default_nccl_only):
            STATE.nccl_only.add(id(group))
        return group

    patch_both("new_group", new_group)
    patch_both("is_nccl_available", lambda: True)
    for name in COLLECTIVES:
        fn = getattr(c10d, name, None)
        if fn is not None:
            patch_both(name, _collective(name, fn))
    if getattr(dist, "_broadcast_coalesced", None) is not None:
        hooks.patch(
            dist,
            "_broadcast_coalesced",
            _collective("_broadcast_coalesced", dist._broadcast_coalesced, group_arg=0),
        )
    _ddp_patches(hooks, note)


def _ddp_patches(hooks: Any, note: Callable[[str], None]) -> None:
    """`gradient_as_bucket_view=True` makes each gradient a view of DDP's communication
    bucket, which DDP's C++ reducer allocates from the parameter's options: CPU options
    for an emulated parameter, so the gradients would be CPU tensors (`clip_grad_norm_`
    would then compute on the CPU).  It is a memory optimisation with the same values:
    under the emulation DDP keeps separate gradients, and the report says so."""
    try:
        from torch.nn.parallel import DistributedDataParallel
    except ImportError:
        return
    orig_init = DistributedDataParallel.__init__

    @functools.wraps(orig_init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("gradient_as_bucket_view"):
            kwargs["gradient_as_bucket_view"] = False
            note(
                "DistributedDataParallel(gradient_as_bucket_view=True) kept separate "
                "gradients under the emulated accelerator (same values, more memory)"
            )
        orig_init(self, *args, **kwargs)

    hooks.patch(DistributedDataParallel, "__init__", __init__)


def _cpu_values(value: Any) -> Any:
    """The CPU tensors behind emulated ones (lists of them, lists of lists)."""
    from devlint.runtime.emulation import EmulatedTensor

    if type(value) is EmulatedTensor:
        return value._inner
    if isinstance(value, (list, tuple)):
        return type(value)(_cpu_values(v) for v in value)
    return value


class _Depth(threading.local):
    depth = 0


_IN_COLLECTIVE = _Depth()


def _collective(name: str, fn: Callable[..., Any], group_arg: Optional[int] = None) -> Any:
    """`fn` on the CPU values of emulated tensors, after NCCL's device check.  The process
    group is the argument named `group` (or the positional `group_arg`)."""
    try:
        signature: Optional[inspect.Signature] = inspect.signature(fn)
    except (TypeError, ValueError):
        signature = None

    def group_of(args: tuple, kwargs: dict) -> Any:
        if group_arg is not None:
            return args[group_arg] if len(args) > group_arg else kwargs.get("process_group")
        if signature is None:
            return kwargs.get("group")
        try:
            return signature.bind_partial(*args, **kwargs).arguments.get("group")
        except TypeError:
            return kwargs.get("group")

    @functools.wraps(fn)
    def collective(*args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        if _IN_COLLECTIVE.depth:
            # The collective calling itself again through `handle_torch_function` (the
            # TorchFunctionMode makes every tensor look overridable): already checked.
            return fn(*args, **kwargs)
        # NCCL's check applies to what the program hands a collective (and to the module
        # state DDP broadcasts): torch's own callers (the object collectives) put their
        # CPU buffers on the accelerator first where the backend is NCCL, which is gloo here.
        if _nccl_only_group(group_of(args, kwargs)) and (
            group_arg is not None or not _torch_file(sys._getframe(1).f_code.co_filename)
        ):
            _check_nccl_devices(name, args, kwargs)
        _IN_COLLECTIVE.depth += 1
        try:
            return fn(*_cpu_values(args), **{k: _cpu_values(v) for k, v in kwargs.items()})
        finally:
            _IN_COLLECTIVE.depth -= 1

    return collective


_TORCH_DIR: Optional[str] = None


def _torch_file(filename: str) -> bool:
    global _TORCH_DIR
    if _TORCH_DIR is None:
        import torch

        _TORCH_DIR = os.path.dirname(os.path.realpath(torch.__file__)) + os.sep
    return os.path.realpath(filename).startswith(_TORCH_DIR)


def _nccl_only_group(group: Any) -> bool:
    """The process group (None: the default one) asked for NCCL alone."""
    if group is None:
        return STATE.default_nccl_only
    if id(group) in STATE.nccl_only:
        return True
    from torch.distributed import distributed_c10d as c10d

    with contextlib.suppress(Exception):
        if group is c10d.GroupMember.WORLD or group is c10d._get_default_group():
            return STATE.default_nccl_only
    return False


def _check_nccl_devices(name: str, args: tuple, kwargs: dict) -> None:
    """A process group that asked for NCCL alone has no backend for CPU tensors: a
    collective given a tensor the program made on the CPU raises NCCL's error there."""
    import torch

    from devlint.runtime import emulation
    from devlint.runtime.tracer import get_prov

    def tensors(value: Any) -> list:
        if isinstance(value, torch.Tensor):
            return [value]
        if isinstance(value, (list, tuple)):
            return [t for v in value for t in tensors(v)]
        return []

    found = [("tensor", t) for t in tensors(list(args)) + tensors(list(kwargs.values()))]
    cpu = [
        (n, t)
        for n, t in found
        if type(t) is not emulation.EmulatedTensor and get_prov(t) is not None
    ]
    if not cpu:
        return
    accel = f"{emulation.ACCEL}:{emulation.EMU.current}"
    message = "No backend type associated with device type cpu"
    emulation.report_mismatch(
        f"torch.distributed.{name}",
        message,
        accel,
        "cpu",
        [(n, t, False, False) for n, t in found],
        sys._getframe(2),
    )
