"""The device tracer: where tensors were made and moved, and every device error, recorded
with the user's frames before PyTorch raises.

It works the same on a real accelerator (CUDA, MPS), with no accelerator at all (`--device
cpu`) and under the emulated accelerator (`devlint.runtime.emulation`, which builds on it):

* Provenance.  Every tensor made in the program carries a `Prov`: the user site that made
  it on its device (the factory call, the `.to()` call, the `__init__` assignment that ran
  the factory) and the moves that were asked of it but whose result it is not (a
  discarded `x.to(device)`).  Derived tensors inherit the provenance of their first
  operand on the same device, so a mask computed from a CPU `torch.arange` still points at
  the `arange` line.  Plain tensors keep it in a side table (weak references, so nothing
  is written into the tensor: checkpoints stay clean); emulated tensors in themselves.
* Errors.  A TorchFunctionMode sees every torch call made from Python; when one raises a
  device error (mixing, `.numpy()` of an accelerator tensor, no accelerator), the event is
  recorded with the user frames, the operands' devices and provenance and PyTorch's own
  text, then the error goes on, or with `--keep-going` the call is healed (operands moved
  to the accelerator operand's device, `.numpy()` through `.cpu()`, the accelerator
  request answered on the CPU) and the program continues.  Errors raised inside C++
  (autograd, composite kernels) reach the outermost torch call that Python made, and are
  attributed there.
* Moves and factories are patched on `torch.Tensor` and `torch` (not only seen by the
  mode) so they are recorded in every thread and inside torch's own Python functions.

Only `devlint.runtime` imports this module, and only in the process that runs the user's
program (the `confirm` child, or pytest with `--devlint-confirm`).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import re
import sys
import threading
from typing import Any, Callable, Iterator, NamedTuple, Optional

import torch
from torch.overrides import TorchFunctionMode

from devlint.runtime._sites import (
    innermost_user_site,
    is_user_file,
    set_parent_frames,
    user_frames,
)
from devlint.runtime.events import EventSink

Tensor = torch.Tensor
_TensorBase = torch._C.TensorBase


class Prov(NamedTuple):
    origin: Optional[tuple[str, int]]
    moves: tuple = ()
    healed: bool = False


# --- provenance ------------------------------------------------------------------------
#
# Kept in the tensor's own __dict__ (a weak side table would stop `torch.utils.swap_tensors`,
# which refuses tensors with weak references).  `torch._utils._get_obj_state` is patched so
# the attribute never reaches a pickle: checkpoints stay ordinary.

_PROV_ATTR = "_devlint_prov"


def get_prov(t: Any) -> Optional[Prov]:
    try:
        return t.__dict__.get(_PROV_ATTR)
    except AttributeError:
        return None


def set_prov(t: Any, prov: Prov) -> None:
    with contextlib.suppress(AttributeError):
        t.__dict__[_PROV_ATTR] = prov


def _strip_state(orig):
    @functools.wraps(orig)
    def _get_obj_state(obj):
        state = orig(obj)
        if isinstance(state, dict) and _PROV_ATTR in state:
            state = {k: v for k, v in state.items() if k != _PROV_ATTR}
        return state

    return _get_obj_state


def device_of(t: Any) -> torch.device:
    """The device the program sees (the emulated one for an emulated tensor)."""
    return t.device


def dstr(device: Any) -> str:
    return str(device)


def accel_type(device: torch.device) -> bool:
    return device.type not in ("cpu", "meta")


# --- the run ---------------------------------------------------------------------------


class Config(NamedTuple):
    mode: str = "auto"  # requested: auto, cuda, mps, emulated, cpu
    keep_going: bool = False
    max_batches: int = 0
    events_path: str = ""
    device_count: int = 1
    # Where the process that runs the program writes its results: worker processes
    # (mp.spawn, torchrun) write theirs beside it (`<results_path>.worker.<pid>`).
    results_path: str = ""


class Harness:
    """Everything one traced program run shares: the configuration and the events."""

    def __init__(self, config: Config, mode: str) -> None:
        self.config = config
        self.mode = mode  # resolved: cuda, mps, emulated, cpu
        self.sink = EventSink(config.events_path or None)
        self.keep_going = config.keep_going
        self.local = threading.local()

    def record(self, event: dict[str, Any]) -> None:
        event.setdefault("healed", False)
        self.sink.add(event)


HARNESS: Optional[Harness] = None


def operand_record(name: str, t: Any) -> dict[str, Any]:
    prov = get_prov(t)
    return {
        "name": name,
        "device": dstr(device_of(t)),
        "origin": list(prov.origin) if prov and prov.origin else None,
        "moves": [list(m) for m in prov.moves] if prov else [],
    }


class _Call(threading.local):
    """The torch function the program called (from Python) that is running now."""

    func: Any = None


_CALL = _Call()


def current_call() -> Optional[str]:
    """The name of the program's torch call in progress (`torch.nn.functional.linear`):
    what a real device's event names as its operation (the mode sees the call that
    raised), so an emulated event, raised deeper at an ATen operator (`aten::addmm`),
    can be compared with it (`benchmarks/gpu_check.py`)."""
    func = _CALL.func
    return func_name(func) if func is not None else None


def make_event(
    kind: str,
    op: str,
    message: str,
    exception: str,
    devices: list[str],
    operands: list[dict[str, Any]],
    frame=None,
    **extra: Any,
) -> dict[str, Any]:
    if frame is None:
        frame = sys._getframe(1)
    event = {
        "kind": kind,
        "op": op,
        "message": message,
        "exception": exception,
        "devices": devices,
        "frames": user_frames(frame),
        "operands": operands,
        "call": current_call() or op,
    }
    event.update(extra)
    return event


def mark_recorded(exc: BaseException) -> BaseException:
    with contextlib.suppress(AttributeError, TypeError):
        exc._devlint_recorded = True  # type: ignore[attr-defined]
    return exc


def is_recorded(exc: BaseException) -> bool:
    return bool(getattr(exc, "_devlint_recorded", False))


def record_uncaught(harness: Any, exc: BaseException) -> None:
    """The program died for want of an accelerator along a path no hook watches (a
    legacy CUDA constructor, `torch.cuda.LongTensor(indices)`): the event is placed at
    the innermost frame of its traceback, where it asked for one."""
    if classify(exc) != "no-accelerator" or is_recorded(exc):
        return
    tb = exc.__traceback__
    if tb is None:
        return
    while tb.tb_next is not None:
        tb = tb.tb_next
    event = make_event(
        "no-accelerator", "uncaught", str(exc), type(exc).__name__, ["cuda", "cpu"], [],
        frame=tb.tb_frame,
    )  # fmt: skip
    harness.record(event)
    mark_recorded(exc)


# --- classification of real errors --------------------------------------------------------

_NO_ACCEL = (
    "Torch not compiled with CUDA enabled",
    # a CPU build asked for a CUDA tensor type (`x.type("torch.cuda.FloatTensor")`)
    "Cannot initialize CUDA without ATen_cuda library",
    "No CUDA GPUs are available",
    "Found no NVIDIA driver",
    "CUDA driver initialization failed",
    "Cannot access accelerator device when none is available",
    "Attempting to deserialize object on a CUDA device",
    "Attempting to deserialize object on CUDA device",
    "The MPS backend is supported on",
    "MPS backend is not available",
    "PyTorch is not linked with support for mps devices",
)
# The start of `nn.DataParallel.forward`'s own check (every torch release since 1.0).
_DP_MESSAGE = "module must have its parameters and buffers on device"
_MIXING = (
    "Expected all tensors to be on the same device",
    "indices should be either on",
    "tensors are not at the same device",
    "to be on the same device",
    "Expected object of device type",
    _DP_MESSAGE,
)
# What a legacy CPU constructor raises for an accelerator `device=` (as torch 2.13 words
# it; a release that words it otherwise lets the error through unclassified).
LEGACY_DEVICE_MESSAGE = "legacy constructor expects device type"
_TYPE_PAIR = re.compile(r"Input type \(([\w.]+)\) and (?:weight|bias) type \(([\w.]+)\)")


def classify(exc: BaseException) -> Optional[str]:
    text = str(exc)
    if isinstance(exc, TypeError) and "device type tensor to numpy" in text:
        return "numpy"
    if any(s in text for s in _NO_ACCEL):
        return "no-accelerator"
    if any(s in text for s in _MIXING):
        return "mismatch"
    m = _TYPE_PAIR.search(text)
    if m and (".cuda." in m.group(1)) != (".cuda." in m.group(2)):
        return "mismatch"
    return None


def tensors_in(args: tuple, kwargs: dict) -> list[tuple[str, Any]]:
    """The tensor operands of a Python-level call, one level into lists and tuples."""
    out: list[tuple[str, Any]] = []
    for i, a in enumerate(args):
        if isinstance(a, Tensor):
            out.append((f"arg{i}", a))
        elif isinstance(a, (list, tuple)):
            for j, b in enumerate(a):
                if isinstance(b, Tensor):
                    out.append((f"arg{i}[{j}]", b))
    for k, v in kwargs.items():
        if isinstance(v, Tensor):
            out.append((k, v))
        elif isinstance(v, (list, tuple)):
            for j, b in enumerate(v):
                if isinstance(b, Tensor):
                    out.append((f"{k}[{j}]", b))
    return out


def func_name(func: Any) -> str:
    name = getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or str(func)
    for prefix, public in (
        ("TensorBase.", "Tensor."),
        ("_VariableFunctionsClass.", "torch."),
        ("_TensorBase.", "Tensor."),
    ):
        if name.startswith(prefix):
            return public + name[len(prefix) :]
    module = getattr(func, "__module__", None)
    if module in ("torch._C._nn", "torch.nn.functional") and "." not in name:
        return f"torch.nn.functional.{name}"
    return name


# --- the mode --------------------------------------------------------------------------


class _HookDepth(threading.local):
    depth = 0


_IN_HOOK = _HookDepth()


class _in_hook:
    def __enter__(self):
        _IN_HOOK.depth += 1

    def __exit__(self, *exc):
        _IN_HOOK.depth -= 1
        return False


def _cache_default_device_factories() -> None:
    """Fill torch's cache of the factories a default device applies to before the harness
    replaces them.  `torch.utils._device` computes that set once, on first use, from the
    attributes of `torch`: computed after the patching, it holds the harness's wrappers,
    while the default-device mode is handed the C functions, so under the harness
    `with torch.device("cuda"):` and `torch.set_default_device("cuda")` placed nothing
    and a real GPU run failed where the program is correct (seen on an H200, torch 2.11).
    """
    try:
        from torch.utils._device import _device_constructors
    except ImportError:  # torch < 2.0: no default device
        return
    cache_clear = getattr(_device_constructors, "cache_clear", None)
    if cache_clear is not None:
        cache_clear()
    with contextlib.suppress(Exception):
        _device_constructors()


class TracerMode(TorchFunctionMode):
    """Provenance for derived tensors and attribution of device errors (see module doc)."""

    def __init__(self, harness: Harness) -> None:
        super().__init__()
        self.harness = harness
        self.handlers: dict[Any, Callable] = {}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        __tracebackhide__ = True
        if kwargs is None:
            kwargs = {}
        call = _CALL
        outermost = call.func is None
        if outermost:
            call.func = func
        try:
            handler = self.handlers.get(func)
            if handler is not None:
                return handler(func, types, args, kwargs)
            return self.call(func, args, kwargs)
        finally:
            if outermost:
                call.func = None

    def call(self, func, args, kwargs):
        """Run `func` as a call no handler takes: errors classified, results tagged."""
        __tracebackhide__ = True
        try:
            out = func(*args, **kwargs)
        except Exception as exc:
            return self.on_error(func, args, kwargs, exc)
        inherit(out, args)
        return out

    # Real devices: classify, record, heal.
    def on_error(self, func, args, kwargs, exc: Exception, attempt: int = 0):
        __tracebackhide__ = True
        if is_recorded(exc):
            if self.harness.keep_going and getattr(exc, "_devlint_healable", False):
                pass
            raise exc
        kind = classify(exc)
        if kind is None:
            raise exc
        if kind == "no-accelerator" and getattr(_IN_HOOK, "depth", 0):
            raise exc  # the patched move or factory that made this call records it
        operands = tensors_in(args, kwargs)
        if kind == "mismatch" and self.harness.keep_going and _healed_before(operands):
            # The CPU side was healed at an error already recorded (the same unmoved model
            # called again): healing stands for the fix, so this is no new error, as in
            # the emulation.
            healed = self.heal(kind, func, args, kwargs, operands)
            if healed is not None:
                return self._run_healed(func, healed, attempt)
        devices = _device_pair(operands)
        if kind == "numpy" and operands:
            devices = [dstr(device_of(operands[0][1])), "cpu"]
        event = make_event(
            kind,
            func_name(func),
            str(exc),
            type(exc).__name__,
            devices,
            [operand_record(n, t) for n, t in operands],
            frame=sys._getframe(1),
        )
        if kind == "no-accelerator":
            event["bindings"] = device_bindings(sys._getframe(1), args, kwargs)
        healed = None
        if self.harness.keep_going and attempt < 8:
            healed = self.heal(kind, func, args, kwargs, operands)
        event["healed"] = healed is not None
        self.harness.record(event)
        if healed is None:
            raise mark_recorded(exc)
        if kind == "mismatch":
            _mark_cpu_side(operands)
        return self._run_healed(func, healed, attempt)

    def _run_healed(self, func, healed, attempt: int):
        __tracebackhide__ = True
        new_args, new_kwargs = healed
        try:
            out = func(*new_args, **new_kwargs)
        except Exception as exc2:
            return self.on_error(func, new_args, new_kwargs, exc2, attempt + 1)
        inherit(out, new_args)
        return out

    def heal(self, kind, func, args, kwargs, operands):
        if kind == "mismatch":
            target = None
            for _, t in operands:
                if accel_type(t.device):
                    target = t.device
                    break
            if target is None:
                return None
            return _map_tensors(args, kwargs, lambda t: _heal_move(t, target))
        if kind == "numpy" and operands:
            return _map_tensors(args, kwargs, lambda t: t.cpu() if accel_type(t.device) else t)
        if kind == "no-accelerator" and "device" in kwargs:
            kwargs = dict(kwargs)
            kwargs["device"] = "cpu"
            kwargs.pop("pin_memory", None)
            return args, kwargs
        return None


def _healed_before(operands: list[tuple[str, Any]]) -> bool:
    """Whether a CPU operand was the CPU side of a mismatch already recorded and healed."""
    for _, t in operands:
        if not accel_type(t.device):
            prov = get_prov(t)
            if prov is not None and prov.healed:
                return True
    return False


def _mark_cpu_side(operands: list[tuple[str, Any]]) -> None:
    """Remember the CPU operands of a healed mismatch, and the CPU leaves (parameters) they
    were computed from: the next operation that meets them on the accelerator is the same
    defect (`--keep-going` heals it without a new event, as the emulation does)."""
    roots = []
    for _, t in operands:
        if accel_type(t.device):
            continue
        set_prov(t, (get_prov(t) or Prov(None))._replace(healed=True))
        roots.append(t.grad_fn)
    for leaf in autograd_leaves(roots):
        if not accel_type(leaf.device):
            set_prov(leaf, (get_prov(leaf) or Prov(None))._replace(healed=True))


def autograd_leaves(roots: list[Any], limit: int = 10000) -> Iterator[Tensor]:
    """The leaf tensors (parameters, inputs that require grad) of the autograd graph below
    the `grad_fn` nodes `roots`, each once; at most `limit` nodes are visited."""
    seen: set[int] = set()
    stack = [r for r in roots if r is not None]
    while stack and len(seen) < limit:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        leaf = getattr(node, "variable", None)
        if isinstance(leaf, Tensor):
            yield leaf
        stack.extend(f for f, _ in getattr(node, "next_functions", ()))


def _heal_move(t: Tensor, target: torch.device) -> Tensor:
    if t.device == target:
        return t
    with torch.no_grad() if not t.requires_grad else _null():
        moved = _ORIG["to"](t, target)
    prov = get_prov(t)
    if prov is not None:
        set_prov(moved, prov._replace(healed=True))
    return moved


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _map_tensors(args, kwargs, fn):
    def conv(a):
        if isinstance(a, Tensor):
            return fn(a)
        if isinstance(a, list):
            return [fn(b) if isinstance(b, Tensor) else b for b in a]
        if isinstance(a, tuple) and not hasattr(a, "_fields"):
            return tuple(fn(b) if isinstance(b, Tensor) else b for b in a)
        return a

    return tuple(conv(a) for a in args), {k: conv(v) for k, v in kwargs.items()}


def _device_pair(operands: list[tuple[str, Any]]) -> list[str]:
    devs: list[str] = []
    for _, t in operands:
        d = dstr(device_of(t))
        if d not in devs:
            devs.append(d)
    accel = [d for d in devs if not d.startswith("cpu")]
    rest = [d for d in devs if d.startswith("cpu")]
    ordered = accel + rest
    return ordered[:2]


def inherit(out: Any, args: tuple) -> None:
    """Give the tensors a call returned the provenance of its first operand on their
    device, or the current user site when none has any."""
    if isinstance(out, Tensor):
        outs = (out,)
    elif isinstance(out, (tuple, list)) and out and isinstance(out[0], Tensor):
        outs = tuple(o for o in out if isinstance(o, Tensor))
    else:
        return
    for o in outs:
        if get_prov(o) is not None:
            continue
        prov = None
        try:
            odev = o.device
        except Exception:
            continue
        for a in args:
            if isinstance(a, Tensor):
                cand = (a,)
            elif isinstance(a, (list, tuple)):
                cand = a
            else:
                continue
            for b in cand:
                if isinstance(b, Tensor) and b is not o:
                    p = get_prov(b)
                    if p is not None and b.device == odev:
                        prov = p
                        break
            if prov is not None:
                break
        if prov is None:
            site = innermost_user_site(sys._getframe())
            prov = Prov(site)
        set_prov(o, prov)


# --- where a device value came from (no accelerator) ---------------------------------------


# Command-line options whose default names an accelerator: dest -> the user line that
# added the option (`parser.add_argument("--device", default="cuda")`).
OPTION_SITES: dict[str, tuple[str, int]] = {}


def _record_option(orig):
    @functools.wraps(orig)
    def add_argument(self, *args, **kwargs):
        action = orig(self, *args, **kwargs)
        default = getattr(action, "default", None)
        accelerator = isinstance(default, (str, torch.device)) and any(
            _same_device_value(default, torch.device(kind)) for kind in ("cuda", "mps", "xpu")
        )
        if accelerator:
            site = innermost_user_site(sys._getframe(1))
            if site is not None:
                OPTION_SITES[action.dest] = site
        return action

    return add_argument


def _same_device_value(value: Any, target: torch.device) -> bool:
    try:
        if isinstance(value, torch.device):
            return value.type == target.type
        if isinstance(value, str) and value and len(value) < 32:
            return torch.device(value).type == target.type
    except (RuntimeError, TypeError, ValueError):
        return False
    return False


def _requested_device(args: tuple, kwargs: dict) -> Optional[torch.device]:
    cands = [kwargs.get("device"), kwargs.get("map_location"), *args]
    for c in cands:
        if isinstance(c, torch.device) and accel_type(c):
            return c
        if isinstance(c, str):
            try:
                d = torch.device(c)
            except (RuntimeError, TypeError, ValueError):
                continue
            if accel_type(d):
                return d
    return torch.device("cuda")


def _store_lines(code, name: str, attr: bool) -> list[int]:
    import dis

    ops = ("STORE_ATTR",) if attr else ("STORE_FAST", "STORE_NAME", "STORE_GLOBAL", "STORE_DEREF")
    lines: list[int] = []
    line = code.co_firstlineno
    for ins in dis.get_instructions(code):
        pos = getattr(ins, "positions", None)
        if pos is not None and pos.lineno is not None:
            line = pos.lineno
        elif ins.starts_line:
            line = ins.starts_line if isinstance(ins.starts_line, int) else line
        if ins.opname in ops and ins.argval == name:
            lines.append(line)
    return lines


def _body_first_line(code) -> int:
    import dis

    first = code.co_firstlineno
    best = None
    for ins in dis.get_instructions(code):
        pos = getattr(ins, "positions", None)
        ln = pos.lineno if pos is not None else None
        if ln is not None and ln > first and (best is None or ln < best):
            best = ln
    return best if best is not None else first


def device_bindings(frame, args: tuple, kwargs: dict) -> list[list]:
    """Sites that bound the accelerator device a failing call asked for: assignments of
    the local (or `self` attribute) that holds it, and the signature of the function
    whose parameter holds it (a `device="cuda"` default)."""
    target = _requested_device(args, kwargs)
    sites: list[list] = []
    while frame is not None:
        code = frame.f_code
        if is_user_file(code.co_filename):
            params = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
            for name, value in list(frame.f_locals.items()):
                if _same_device_value(value, target):
                    lines = _store_lines(code, name, attr=False)
                    if name in params:
                        end = _body_first_line(code)
                        lines.extend(range(code.co_firstlineno, max(end, code.co_firstlineno + 1)))
                    sites.extend([code.co_filename, ln] for ln in lines)
                elif isinstance(value, argparse.Namespace):
                    # `torch.device(args.device)` with `add_argument("--device",
                    # default="cuda")`: the option's line bound it
                    for dest, site in OPTION_SITES.items():
                        if _same_device_value(getattr(value, dest, None), target):
                            sites.append(list(site))
                elif name == "self":
                    for attr, value2 in list(getattr(value, "__dict__", {}).items()):
                        if _same_device_value(value2, target):
                            for meth in vars(type(value)).values():
                                c2 = getattr(meth, "__code__", None)
                                if c2 is not None:
                                    sites.extend(
                                        [c2.co_filename, ln]
                                        for ln in _store_lines(c2, attr, attr=True)
                                    )
        frame = frame.f_back
    out: list[list] = []
    for s in sites:
        if s not in out:
            out.append(s)
    return out


# --- patched moves and factories ------------------------------------------------------------

_ORIG: dict[str, Any] = {}

FACTORIES = (
    "zeros",
    "ones",
    "empty",
    "full",
    "rand",
    "randn",
    "randint",
    "randperm",
    "arange",
    "range",
    "linspace",
    "logspace",
    "eye",
    "tensor",
    "as_tensor",
    "asarray",
    "zeros_like",
    "ones_like",
    "empty_like",
    "full_like",
    "rand_like",
    "randn_like",
    "randint_like",
    "empty_strided",
    "scalar_tensor",
    "tril_indices",
    "triu_indices",
    "normal",
    "hann_window",
    "hamming_window",
    "blackman_window",
    "bartlett_window",
    "kaiser_window",
    "sparse_coo_tensor",
    "from_numpy",
    "frombuffer",
)
NEW_METHODS = ("new_tensor", "new_empty", "new_zeros", "new_ones", "new_full", "new_empty_strided")


def parse_to(args: tuple, kwargs: dict):
    """(device, dtype, non_blocking, copy, memory_format, other) of a `Tensor.to` call."""
    kwargs = dict(kwargs)
    copy = bool(kwargs.pop("copy", False))
    if args and isinstance(args[0], Tensor):
        other = args[0]
        rest = args[1:]
        non_blocking = kwargs.pop("non_blocking", rest[0] if rest else False)
        if len(rest) > 1:
            copy = bool(rest[1])
        return other.device, other.dtype, non_blocking, copy, kwargs.get("memory_format"), other
    if "other" in kwargs:
        other = kwargs.pop("other")
        return (
            other.device,
            other.dtype,
            kwargs.get("non_blocking", False),
            copy,
            kwargs.get("memory_format"),
            other,
        )
    pos = list(args)
    # Positional `copy` (to(device, dtype, non_blocking, copy)) is rare; take it off.
    if len(pos) >= 4 and isinstance(pos[3], bool):
        copy = pos.pop(3)
    elif len(pos) == 3 and isinstance(pos[0], torch.dtype) and isinstance(pos[2], bool):
        copy = pos.pop(2)
    device, dtype, non_blocking, memory_format = torch._C._nn._parse_to(*pos, **kwargs)
    return device, dtype, non_blocking, copy, memory_format, None


def record_move(src: Tensor, out: Tensor, target: torch.device, site) -> None:
    """`out` was made at `site`; a move of `src` to `target` was asked there."""
    if out is src:
        return
    set_prov(out, Prov(site))
    prov = get_prov(src) or Prov(None)
    set_prov(src, prov._replace(moves=(*prov.moves, (site[0], site[1], dstr(target)))))


class _LegacyType(type):
    """The metaclass of the stand-ins for PyTorch's legacy tensor types (`torch.FloatTensor`,
    `torch.cuda.LongTensor`, ...).  Those are C types whose constructor PyTorch runs without
    a `__torch_function__` call, so a tensor they make would have no provenance, and an
    untagged CPU tensor is taken for a C++ temporary that follows its operation: a CPU
    `LongTensor` indexed with accelerator indices would then pass where a GPU raises.  The
    stand-in makes the tensor through the original type and tags it (`Hooks.legacy_new`);
    `isinstance`, attribute reads (`dtype`, `is_cuda`) and `repr` go to the original."""

    _devlint_orig: Any
    _devlint_hooks: Any

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        return cls._devlint_hooks.legacy_new(cls._devlint_orig, args, kwargs)

    def __instancecheck__(cls, obj: Any) -> bool:
        return bool(cls._devlint_hooks.legacy_isinstance(cls._devlint_orig, obj))

    def __subclasscheck__(cls, sub: Any) -> bool:
        return sub is cls or (isinstance(sub, type) and issubclass(sub, cls._devlint_orig))

    def __getattr__(cls, name: str) -> Any:
        return getattr(cls.__dict__["_devlint_orig"], name)

    def __repr__(cls) -> str:
        return repr(cls._devlint_orig)


def legacy_original(t: Any) -> Any:
    """The real legacy type behind a stand-in (`torch.FloatTensor` while patched), else `t`."""
    return t.__dict__["_devlint_orig"] if isinstance(t, _LegacyType) else t


def _tag_here(out: Any, frame: Any) -> Any:
    """Give a tensor made at the user's current site that site as its origin."""
    if isinstance(out, Tensor) and get_prov(out) is None:
        site = innermost_user_site(frame)
        if site is not None:
            set_prov(out, Prov(site))
    return out


# The legacy tensor types and their dtypes (`torch.FloatTensor`, `torch.cuda.LongTensor`).
LEGACY_DTYPES = {
    "FloatTensor": torch.float32,
    "DoubleTensor": torch.float64,
    "HalfTensor": torch.float16,
    "BFloat16Tensor": torch.bfloat16,
    "LongTensor": torch.int64,
    "IntTensor": torch.int32,
    "ShortTensor": torch.int16,
    "CharTensor": torch.int8,
    "ByteTensor": torch.uint8,
    "BoolTensor": torch.bool,
}


def type_argument(t: Any) -> tuple[Optional[str], Optional[torch.dtype]]:
    """(device type, dtype) that `x.type(t)` asks for, as `Tensor.type` reads its argument
    in C++: a dtype asks for its dtype alone; a legacy type or its name for a device type
    and a dtype (`torch.FloatTensor`, `'torch.FloatTensor'`: the CPU and float32;
    `torch.cuda.HalfTensor`: CUDA and float16); `torch.Tensor` for the default tensor type.
    (None, None) for anything else."""
    if isinstance(t, torch.dtype):
        return None, t
    t = legacy_original(t)
    if t is Tensor or t == "torch.Tensor":
        default = getattr(torch, "get_default_device", None)
        device = default() if default is not None else torch.device("cpu")
        return device.type, torch.get_default_dtype()
    if isinstance(t, str):
        name = t
    elif isinstance(t, type):
        name = f"{getattr(t, '__module__', '')}.{getattr(t, '__name__', '')}"
    else:
        return None, None
    if not name.startswith("torch."):
        return None, None
    dtype = LEGACY_DTYPES.get(name.rsplit(".", 1)[-1])
    return ("cuda" if name.startswith("torch.cuda.") else "cpu"), dtype


def _alias_of(out: Any, src: Any, frame: Any) -> Any:
    """`out` is `src` under a new Python object (see `Hooks.install_alias_constructors`):
    it takes `src`'s provenance, or, when `src` has none (not a tensor: a NumPy array
    through DLPack), the user's current site as its origin."""
    if isinstance(out, Tensor) and out is not src and get_prov(out) is None:
        prov = get_prov(src) if isinstance(src, Tensor) else None
        if prov is not None:
            set_prov(out, prov)
        else:
            _tag_here(out, frame)
    return out


class Hooks:
    """Install/uninstall of the patches that every mode shares.  Subclasses (the
    emulation) override `move` and `factory`."""

    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self.saved: list[tuple[Any, str, Any]] = []

    # -- patching helpers --
    def patch(self, owner: Any, name: str, value: Any) -> None:
        if not hasattr(owner, name):
            return
        self.saved.append(
            (
                owner,
                name,
                owner.__dict__.get(name, _MISSING)
                if isinstance(owner, type)
                else getattr(owner, name),
            )
        )
        setattr(owner, name, value)

    def restore(self) -> None:
        for owner, name, old in reversed(self.saved):
            if old is _MISSING:
                with contextlib.suppress(AttributeError):
                    delattr(owner, name)
            else:
                setattr(owner, name, old)
        self.saved.clear()

    def install(self) -> None:
        _cache_default_device_factories()
        for name in ("to", "cuda", "cpu", "type", "numpy", "pin_memory", *NEW_METHODS):
            if name not in _ORIG:
                _ORIG[name] = getattr(_TensorBase, name)
        self.patch(Tensor, "to", self._wrap_move("to"))
        self.patch(Tensor, "cuda", self._wrap_move("cuda"))
        self.patch(Tensor, "cpu", self._wrap_move("cpu"))
        self.patch(Tensor, "type", self._wrap_move("type"))
        hooks = self

        def numpy(t, *args, **kwargs):
            return hooks._numpy(t, *args, **kwargs)

        numpy.__doc__ = _TensorBase.numpy.__doc__
        # The name an error event reports: PyTorch hands a TorchFunctionMode the method
        # found on the class, this stand-in (a real GPU run reported
        # `Hooks.install.<locals>.numpy` where the emulation says `Tensor.numpy`).
        numpy.__name__ = "numpy"
        numpy.__qualname__ = "Tensor.numpy"
        self.patch(Tensor, "numpy", numpy)
        for name in NEW_METHODS:
            self.patch(Tensor, name, self._wrap_new(name))
        for name in FACTORIES:
            fn = getattr(torch, name, None)
            if fn is None:
                continue
            key = "torch." + name
            if key not in _ORIG:
                _ORIG[key] = fn
            self.patch(torch, name, self._wrap_factory(name, _ORIG[key]))
        self.patch(torch, "load", self._wrap_load(torch.load))
        self.patch(
            argparse._ActionsContainer,
            "add_argument",
            _record_option(argparse._ActionsContainer.add_argument),
        )
        self.install_legacy_constructors()
        self.install_parallel_hooks()
        if hasattr(torch._utils, "_get_obj_state"):
            self.patch(torch._utils, "_get_obj_state", _strip_state(torch._utils._get_obj_state))
        if not hasattr(torch.serialization, "_devlint_orig_load"):
            torch.serialization._devlint_orig_load = torch.serialization.load  # type: ignore[attr-defined]

    # -- legacy constructors: torch.Tensor(...), torch.FloatTensor(...), torch.cuda.*Tensor --
    def install_legacy_constructors(self) -> None:
        """Tag what `torch.Tensor(data)` and the legacy types make (see `_LegacyType`):
        `torch.Tensor.__new__` is replaced (it is the C constructor, which no
        `__torch_function__` sees), and each legacy type in `torch`, `torch.cuda`,
        `torch.sparse` is replaced by a stand-in for the time of the run."""
        hooks = self

        def __new__(*args, **kwargs):
            # (*args, **kwargs): torch._dynamo, imported later, accepts a stand-in for
            # `Tensor.__new__` only with its own signature or this wildcard one.
            __tracebackhide__ = True
            cls = args[0]
            out = _TensorBase.__new__(*args, **kwargs)
            if cls is Tensor:
                _tag_here(out, sys._getframe(1))
            return out

        if "__new__" not in Tensor.__dict__:
            self.patch(Tensor, "__new__", staticmethod(__new__))
        self.install_alias_constructors()
        for orig in sorted(getattr(torch, "_tensor_classes", ()), key=str):
            module = sys.modules.get(getattr(orig, "__module__", ""))
            name = getattr(orig, "__name__", "")
            if module is None or getattr(module, name, None) is not orig:
                continue
            proxy = _LegacyType(
                name,
                (),
                {
                    "__module__": orig.__module__,
                    "__qualname__": name,
                    "__doc__": orig.__doc__,
                    "_devlint_orig": orig,
                    "_devlint_hooks": hooks,
                },
            )
            self.patch(module, name, proxy)
        self.patch(torch, "set_default_tensor_type", self._set_default_tensor_type)

    def install_alias_constructors(self) -> None:
        """The constructors that give an existing tensor a new Python object in C++, where
        no `__torch_function__` sees them: `torch.autograd.Variable(t)` (its C base's
        `__new__` returns `t.detach()`), `torch.Tensor._make_subclass` (what
        `nn.Parameter(t)` and `nn.Buffer(t)` call) and `torch.from_dlpack`.  The new object
        is the same value as `t`, so it keeps `t`'s provenance (its origin and the moves
        asked of it); without that it would be an untagged CPU tensor, taken for a C++
        temporary, and `model(Variable(x.type(torch.FloatTensor)))` on an accelerator model
        would run where a GPU raises."""
        hooks = self
        variable_cls = getattr(getattr(torch.autograd, "variable", None), "Variable", None)
        legacy_base = getattr(torch._C, "_LegacyVariableBase", None)
        if (
            isinstance(variable_cls, type)
            and legacy_base is not None
            and "__new__" not in variable_cls.__dict__
        ):
            base_new = legacy_base.__new__

            def variable_new(cls, *args, **kwargs):
                __tracebackhide__ = True
                out = base_new(cls, *args, **kwargs)
                data = args[0] if args else kwargs.get("data")
                return _alias_of(out, data, sys._getframe(1))

            self.patch(variable_cls, "__new__", staticmethod(variable_new))

        base_make_subclass = _TensorBase._make_subclass

        def _make_subclass(*args, **kwargs):
            __tracebackhide__ = True
            out = base_make_subclass(*args, **kwargs)
            data = args[1] if len(args) > 1 else kwargs.get("data")
            return _alias_of(out, data, sys._getframe(1))

        if "_make_subclass" not in Tensor.__dict__:
            self.patch(Tensor, "_make_subclass", staticmethod(_make_subclass))

        dlpack = getattr(torch.utils, "dlpack", None)
        orig_from_dlpack = getattr(dlpack, "from_dlpack", None)
        if orig_from_dlpack is not None:

            @functools.wraps(orig_from_dlpack)
            def from_dlpack(ext_tensor, *args, **kwargs):
                __tracebackhide__ = True
                return hooks.from_dlpack(orig_from_dlpack, ext_tensor, args, kwargs)

            self.patch(dlpack, "from_dlpack", from_dlpack)
            if getattr(torch, "from_dlpack", None) is orig_from_dlpack:
                self.patch(torch, "from_dlpack", from_dlpack)

    def from_dlpack(self, orig: Any, ext: Any, args: tuple, kwargs: dict) -> Any:
        """`torch.from_dlpack(ext)`: `ext`'s memory under a new tensor (see above)."""
        __tracebackhide__ = True
        out = orig(ext, *args, **kwargs)
        return _alias_of(out, ext, sys._getframe(2))

    # -- errors that cross threads and processes, DataParallel's own device check --
    def install_parallel_hooks(self) -> None:
        """A device error raised in another thread or process comes back as a new
        exception: `ExceptionWrapper.reraise` (DataParallel's replica threads, DataLoader
        workers) builds one from the text.  The new one is marked recorded when the first
        was, so the run counts as stopped by a device error, not as a crash.
        `nn.DataParallel.forward` checks in Python that the module is on device_ids[0]
        (no torch call the mode sees raises): that error is recorded here, and with
        --keep-going healed as `model.to(device_ids[0])` would."""
        wrapper = getattr(torch._utils, "ExceptionWrapper", None)
        if wrapper is not None:
            orig_init, orig_reraise = wrapper.__init__, wrapper.reraise

            def __init__(self, exc_info=None, where="in background"):
                if exc_info is None:
                    exc_info = sys.exc_info()
                orig_init(self, exc_info, where)
                self._devlint_recorded = exc_info[1] is not None and is_recorded(exc_info[1])

            def reraise(self):
                __tracebackhide__ = True
                try:
                    orig_reraise(self)
                except BaseException as exc:
                    if self.__dict__.get("_devlint_recorded"):
                        mark_recorded(exc)
                    raise

            self.patch(wrapper, "__init__", __init__)
            self.patch(wrapper, "reraise", reraise)
        data_parallel = getattr(torch.nn, "DataParallel", None)
        if data_parallel is None:
            return
        orig_forward = data_parallel.forward
        hooks = self

        @functools.wraps(orig_forward)
        def forward(module, *inputs, **kwargs):
            __tracebackhide__ = True
            try:
                return orig_forward(module, *inputs, **kwargs)
            except RuntimeError as exc:
                if is_recorded(exc) or not str(exc).startswith(_DP_MESSAGE):
                    raise
                hooks.data_parallel_error(module, exc, sys._getframe(1))
            return orig_forward(module, *inputs, **kwargs)

        self.patch(data_parallel, "forward", forward)

    def data_parallel_error(self, module: Any, exc: BaseException, frame: Any) -> None:
        """Record DataParallel's "module must have its parameters and buffers on device
        cuda:0 (device_ids[0])": the first parameter or buffer elsewhere is the operand.
        Re-raise it, or with --keep-going move the module (the fix) and return."""
        __tracebackhide__ = True
        src = module.src_device_obj
        inner = module.module
        named = [*inner.named_parameters(), *inner.named_buffers()]
        odd = [(name, t) for name, t in named if t.device != src]
        operands = [operand_record(f"module.{name}", t) for name, t in odd[:1]]
        event = make_event(
            "mismatch",
            "nn.DataParallel.forward",
            str(exc),
            type(exc).__name__,
            [dstr(src), dstr(odd[0][1].device) if odd else "cpu"],
            operands,
            frame=frame,
        )
        event["healed"] = self.harness.keep_going
        self.harness.record(event)
        if not self.harness.keep_going:
            raise mark_recorded(exc)
        inner.to(src)

    def legacy_new(self, orig: Any, args: tuple, kwargs: dict) -> Any:
        """`torch.FloatTensor(...)`: the original constructor, tagged with the user site."""
        __tracebackhide__ = True
        frame = sys._getframe(2)
        try:
            out = orig(*args, **kwargs)
        except RuntimeError as exc:
            if LEGACY_DEVICE_MESSAGE not in str(exc):
                raise
            return self.legacy_device(orig, args, kwargs, frame, str(exc))
        except TypeError as exc:
            # `torch.cuda.LongTensor(...)` where CUDA is not: recorded like any request
            # for a missing accelerator; with --keep-going, the CPU type of that name
            name = getattr(orig, "__name__", "Tensor")
            self.no_accelerator(
                f"torch.cuda.{name}", exc, ["cuda", "cpu"], [], frame, args, kwargs
            )
            out = legacy_original(getattr(torch, name))(*args, **kwargs)
        return _tag_here(out, frame)

    def legacy_device(self, orig: Any, args: tuple, kwargs: dict, frame: Any, message: str) -> Any:
        """A legacy CPU constructor given an accelerator `device=`, which it rejects: a
        "legacy" event whose operand is the tensor it was asked to make there (made at the
        user's line, so DL005's finding on it is confirmed by its origin).  With
        `--keep-going` the tensor is made on the CPU and moved where it was asked for, as
        the fix (`torch.tensor(data, device=...)`) would make it."""
        __tracebackhide__ = True
        site = innermost_user_site(frame)
        target = kwargs.get("device")
        event = make_event(
            "legacy",
            f"torch.{getattr(orig, '__name__', 'Tensor')}",
            message,
            "RuntimeError",
            [dstr(torch.device(target)) if target is not None else "?", "cpu"],
            [
                {
                    "name": "result",
                    "device": "cpu",
                    "origin": list(site) if site else None,
                    "moves": [],
                }
            ],
            frame=frame,
        )
        keep = self.harness.keep_going
        event["healed"] = keep
        self.harness.record(event)
        if not keep:
            raise mark_recorded(RuntimeError(message))
        rest = {k: v for k, v in kwargs.items() if k != "device"}
        out = _tag_here(orig(*args, **rest), frame)
        return out.to(target)

    def legacy_isinstance(self, orig: Any, obj: Any) -> bool:
        return isinstance(obj, orig)

    def _set_default_tensor_type(self, t: Any) -> None:
        """`torch.set_default_tensor_type` with a stand-in (or its dotted name)."""
        if isinstance(t, str):
            t = torch._utils._import_dotted_name(t)  # type: ignore[attr-defined]
        torch._C._set_default_tensor_type(legacy_original(t))

    # -- moves --
    def _wrap_move(self, kind: str):
        hooks = self

        def move(self, *args, **kwargs):
            return hooks.move(kind, self, args, kwargs)

        move.__name__ = kind
        move.__qualname__ = f"Tensor.{kind}"
        move.__doc__ = getattr(_TensorBase, kind).__doc__
        return move

    def target_of(self, kind: str, src: Tensor, args: tuple, kwargs: dict):
        """The device a move asks for, or None (no device change asked)."""
        if kind == "cpu":
            return torch.device("cpu")
        if kind == "cuda":
            dev = args[0] if args else kwargs.get("device")
            if dev is None:
                return torch.device("cuda", _current_device())
            if isinstance(dev, int):
                return torch.device("cuda", dev)
            d = torch.device(dev)
            if d.index is None:
                d = torch.device(d.type, _current_device())
            return d
        if kind == "type":
            t = args[0] if args else kwargs.get("dtype")
            if t is None:
                return None
            device_type = type_argument(t)[0]
            # As `Tensor.type` in C++ (THPVariable_type): the tensor keeps its device when
            # that device is of the type asked for, else it goes to that type's current
            # device.  A dtype asks for no device.
            if device_type is None or device_type == src.device.type:
                return None
            if device_type == "cuda":
                return torch.device("cuda", _current_device())
            return torch.device(device_type)
        try:
            device = parse_to(args, kwargs)[0]
        except (RuntimeError, TypeError):
            return None
        if device is None:
            return None
        if device.type == "cuda" and device.index is None:
            device = torch.device("cuda", _current_device())
        return device

    def move(self, kind: str, src: Tensor, args: tuple, kwargs: dict):
        __tracebackhide__ = True
        orig = _ORIG[kind]
        if kind == "type":
            args = tuple(legacy_original(a) for a in args)
            kwargs = {k: legacy_original(v) for k, v in kwargs.items()}
        try:
            target = self.target_of(kind, src, args, kwargs)
        except (RuntimeError, TypeError, ValueError):
            target = None
        try:
            with _in_hook():
                out = orig(src, *args, **kwargs)
        except Exception as exc:
            return self.move_error(kind, src, args, kwargs, exc, target)
        if target is not None and isinstance(out, Tensor) and out is not src:
            site = innermost_user_site(sys._getframe())
            if site is not None and target != src.device:
                record_move(src, out, target, site)
            elif site is not None:
                set_prov(out, get_prov(src) or Prov(site))
        return out

    def no_accelerator(self, op, exc, devices, operands, frame, args, kwargs):
        """Record a failed request for an accelerator that is not there; re-raise it
        (marked recorded) unless --keep-going heals it, when the caller answers on the
        CPU.  Any other error is re-raised untouched."""
        __tracebackhide__ = True
        if classify(exc) != "no-accelerator" or is_recorded(exc):
            raise exc
        event = make_event(
            "no-accelerator",
            op,
            str(exc),
            type(exc).__name__,
            devices,
            operands,
            frame=frame,
            bindings=device_bindings(frame, args, kwargs),
        )
        event["healed"] = self.harness.keep_going
        self.harness.record(event)
        if not self.harness.keep_going:
            raise mark_recorded(exc)

    def move_error(self, kind, src, args, kwargs, exc, target):
        """No accelerator: record and, with --keep-going, answer on the CPU."""
        __tracebackhide__ = True
        self.no_accelerator(
            f"Tensor.{kind}",
            exc,
            [dstr(target) if target is not None else "cuda", "cpu"],
            [operand_record("self", src)],
            sys._getframe(),
            args,
            kwargs,
        )
        if kind in ("cuda",):
            return src
        if kind == "type":
            return src
        _, dtype, _, _copy, _memory_format, _ = _safe_parse_to(args, kwargs)
        out = src
        if dtype is not None and dtype != src.dtype:
            out = _ORIG["to"](out, dtype)
        return out

    # -- numpy --
    def _numpy(self, t, *args, **kwargs):
        __tracebackhide__ = True
        try:
            return _ORIG["numpy"](t, *args, **kwargs)
        except TypeError as exc:
            if classify(exc) != "numpy" or is_recorded(exc):
                raise
            return self.numpy_error(t, exc, sys._getframe(1))

    def numpy_error(self, t, exc, frame):
        __tracebackhide__ = True
        event = make_event(
            "numpy",
            "Tensor.numpy",
            str(exc),
            type(exc).__name__,
            [dstr(t.device), "cpu"],
            [operand_record("self", t)],
            frame=frame,
        )
        event["healed"] = self.harness.keep_going
        self.harness.record(event)
        if not self.harness.keep_going:
            raise mark_recorded(exc)
        return t.detach().cpu().numpy().copy()

    # -- factories --
    def _wrap_factory(self, name: str, orig):
        hooks = self

        @functools.wraps(orig)
        def factory(*args, **kwargs):
            return hooks.factory(name, orig, args, kwargs)

        return factory

    def _wrap_new(self, name: str):
        hooks = self
        orig = _ORIG[name]

        def new(self, *args, **kwargs):
            return hooks.new_method(name, orig, self, args, kwargs)

        new.__name__ = name
        new.__qualname__ = f"Tensor.{name}"
        return new

    def new_method(self, name, orig, src, args, kwargs):
        out = orig(src, *args, **kwargs)
        site = innermost_user_site(sys._getframe())
        if site is not None and isinstance(out, Tensor):
            set_prov(out, Prov(site))
        return out

    def factory(self, name: str, orig, args: tuple, kwargs: dict):
        __tracebackhide__ = True
        try:
            with _in_hook():
                out = orig(*args, **kwargs)
        except Exception as exc:
            return self.factory_error(name, orig, args, kwargs, exc)
        if isinstance(out, Tensor):
            site = innermost_user_site(sys._getframe())
            if site is not None:
                set_prov(out, Prov(site))
        return out

    def factory_error(self, name, orig, args, kwargs, exc):
        __tracebackhide__ = True
        frame = sys._getframe()
        self.no_accelerator(
            f"torch.{name}",
            exc,
            [dstr(_requested_device((), kwargs)), "cpu"],
            [],
            frame,
            (),
            kwargs,
        )
        kwargs = dict(kwargs)
        kwargs["device"] = "cpu"
        kwargs.pop("pin_memory", None)
        out = orig(*args, **kwargs)
        site = innermost_user_site(frame)
        if isinstance(out, Tensor) and site is not None:
            set_prov(out, Prov(site))
        return out

    # -- torch.load --
    def _wrap_load(self, orig):
        hooks = self

        @functools.wraps(orig)
        def load(f, map_location=None, *args, **kwargs):
            return hooks.load(orig, f, map_location, args, kwargs)

        return load

    def load(self, orig, f, map_location, args, kwargs):
        """Real devices and no accelerator: torch.load runs for real.  A load without
        map_location is recorded with what it met: a checkpoint with accelerator storages
        that loaded (here there is an accelerator) is a load that *would fail* on a
        CPU-only machine, not a failure; one with CPU storages only could not show the bug
        at all.  Only a load that raised for want of an accelerator (`load_error`) failed,
        and only that confirms DL008."""
        __tracebackhide__ = True
        frame = sys._getframe()
        if map_location is None:
            places: list[tuple[int, str]] = []
            try:
                with _in_hook():
                    out = orig(f, _recording_restore(places), *args, **kwargs)
            except Exception as exc:
                return self.load_error(orig, f, map_location, args, kwargs, exc, frame)
            self.harness.record(load_event(frame, places, checkpoint_storages(out, places)))
            return out
        try:
            with _in_hook():
                return orig(f, map_location, *args, **kwargs)
        except Exception as exc:
            return self.load_error(orig, f, map_location, args, kwargs, exc, frame)

    def load_error(self, orig, f, map_location, args, kwargs, exc, frame):
        """A load that really failed for want of an accelerator: without map_location it
        is the failure DL008 is about (`outcome: failed`), with one it is a device asked
        for where there is none (DL002).  With --keep-going it is loaded onto the CPU."""
        __tracebackhide__ = True
        if classify(exc) != "no-accelerator" or is_recorded(exc):
            raise exc
        kind = "load" if map_location is None else "no-accelerator"
        event = make_event(
            kind,
            "torch.load",
            str(exc),
            type(exc).__name__,
            ["cuda", "cpu"],
            [],
            frame=frame,
        )
        if kind == "no-accelerator":
            event["bindings"] = device_bindings(frame, (), {"map_location": map_location})
        else:
            event["outcome"] = LOAD_FAILED
        event["healed"] = self.harness.keep_going
        if not self.harness.keep_going:
            self.harness.record(event)
            raise mark_recorded(exc)
        _rewind(f)
        places: list[tuple[int, str]] = []
        try:
            out = orig(f, _recording_restore(places, to_cpu=True), *args, **kwargs)
            if kind == "load":
                event["storages"] = checkpoint_storages(out, places)
        finally:
            self.harness.record(event)
        return out


_MISSING = object()


def _safe_parse_to(args, kwargs):
    try:
        return parse_to(args, kwargs)
    except (RuntimeError, TypeError):
        return None, None, False, False, None, None


def _current_device() -> int:
    try:
        return torch.cuda.current_device()
    except Exception:
        return 0


def _rewind(f: Any) -> None:
    if hasattr(f, "seek"):
        with contextlib.suppress(OSError, ValueError):
            f.seek(0)


def _loc_device(location: str) -> str:
    return location if ":" in location else f"{location}:0"


def _recording_restore(places: list[tuple[int, str]], to_cpu: bool = False):
    """A `map_location` that restores as torch.load does by default (or onto the CPU) and
    notes the saved location of each storage, by the address of the storage it gives
    back (what the loaded tensors point at)."""
    from torch.serialization import default_restore_location

    def restore(storage, location):
        out = storage if to_cpu else default_restore_location(storage, location)
        try:
            ptr = out.data_ptr()
        except Exception:
            ptr = -1
        places.append((ptr, str(location)))
        return out

    return restore


LOAD_FAILED = "failed"  # the load raised: no accelerator for its storages
LOAD_WOULD_FAIL = "would-fail"  # accelerator storages loaded where there is one
LOAD_CPU_ONLY = "cpu-only"  # only CPU storages: this load cannot show the bug
_MAX_NAMES = 6


def checkpoint_storages(obj: Any, places: list[tuple[int, str]]) -> dict[str, dict[str, Any]]:
    """{saved location: {"count": storages, "tensors": [first names]}} of a loaded
    checkpoint: the names are the keys that lead to each tensor (`model.fc.weight`,
    `optimizer.state.0.exp_avg`), so the report can say which tensors were saved on
    which device.  Storages no tensor of the result points at are counted under their
    location with no name."""
    where = {ptr: loc for ptr, loc in places if ptr > 0}
    names: dict[str, list[str]] = {}
    budget = [5000]

    def walk(value: Any, name: str, depth: int) -> None:
        budget[0] -= 1
        if budget[0] < 0 or depth > 8:
            return
        if isinstance(value, torch.Tensor):
            try:
                ptr = value.untyped_storage().data_ptr()
            except Exception:
                return
            loc = where.get(ptr)
            if loc is None:
                return
            lst = names.setdefault(loc, [])
            if len(lst) < _MAX_NAMES:
                lst.append(name or "<tensor>")
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{name}.{k}" if name else str(k), depth + 1)
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                walk(v, f"{name}.{i}" if name else str(i), depth + 1)
        elif isinstance(value, torch.nn.Module):
            walk(value.state_dict(keep_vars=True), name, depth + 1)

    walk(obj, "", 0)
    counts: dict[str, int] = {}
    for _, loc in places:
        counts[loc] = counts.get(loc, 0) + 1
    return {loc: {"count": n, "tensors": names.get(loc, [])} for loc, n in sorted(counts.items())}


def load_event(
    frame: Any, places: list[tuple[int, str]], storages: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """The event of a `torch.load` without map_location that did not fail: `would-fail`
    when the checkpoint has accelerator storages (a CPU-only machine raises PyTorch's
    error, given as the message), `cpu-only` when it has none."""
    accel = sorted({loc for _, loc in places if not loc.startswith("cpu")})
    if accel:
        return make_event(
            "load",
            "torch.load",
            cpu_only_load_message(accel[0]),
            "RuntimeError",
            [_loc_device(accel[0]), "cpu"],
            [],
            frame=frame,
            outcome=LOAD_WOULD_FAIL,
            storages=storages,
        )
    return make_event(
        "load",
        "torch.load",
        "",
        "",
        ["cpu"],
        [],
        frame=frame,
        outcome=LOAD_CPU_ONLY,
        storages=storages,
    )


def cpu_only_load_message(location: str) -> str:
    """PyTorch's own error for loading `location` storages where there is no accelerator
    (asked of torch.serialization with `is_available` answering False)."""
    backend = location.split(":", 1)[0]
    module = getattr(torch, backend, None)
    if module is None or not hasattr(module, "is_available"):
        return f"cannot load {location} storages on a CPU-only machine"
    saved = module.is_available
    module.is_available = lambda: False
    try:
        torch.serialization._validate_device(location, backend)  # type: ignore[attr-defined]
    except RuntimeError as exc:
        return str(exc)
    except Exception:
        pass
    finally:
        module.is_available = saved
    return (
        f"Attempting to deserialize object on a {backend.upper()} device but "
        f"torch.{backend}.is_available() is False. If you are running on a CPU-only machine, "
        "please use torch.load with map_location=torch.device('cpu') to map your storages "
        "to the CPU."
    )


def real_mode_available(kind: str) -> bool:
    if kind == "cuda":
        return torch.cuda.is_available()
    if kind == "mps":
        mps = getattr(torch.backends, "mps", None)
        return bool(mps and mps.is_available())
    return False


def thread_bootstrap_patch(
    enter: Callable[[], Any], leave: Optional[Callable[[], Any]] = None
) -> Callable[[], None]:
    """Make every new thread enter the mode (a TorchFunctionMode is per thread), and give
    it the user frames of the code that started it: an error in one of DataParallel's
    replica threads happened during the program's `model(x)`, which is where a GPU's
    traceback points too ("Caught RuntimeError in replica 1"), so the event's frames go on
    from the thread's own frames to that line (`_sites.set_parent_frames`)."""
    orig = threading.Thread._bootstrap_inner  # type: ignore[attr-defined]
    orig_start = threading.Thread.start

    def start(self):
        with contextlib.suppress(Exception):
            self._devlint_parent_frames = user_frames(sys._getframe(1))
        return orig_start(self)

    def _bootstrap_inner(self):
        entered = False
        with contextlib.suppress(Exception):
            enter()
            entered = True
            set_parent_frames(getattr(self, "_devlint_parent_frames", None) or [])
        try:
            return orig(self)
        finally:
            # Leave the mode before the thread ends: the mode stack is thread-local C++
            # state holding a Python object, which must not be released at thread exit.
            if entered and leave is not None:
                with contextlib.suppress(Exception):
                    leave()

    threading.Thread._bootstrap_inner = _bootstrap_inner  # type: ignore[attr-defined]
    threading.Thread.start = start  # type: ignore[method-assign]

    def undo() -> None:
        threading.Thread._bootstrap_inner = orig  # type: ignore[attr-defined]
        threading.Thread.start = orig_start  # type: ignore[method-assign]

    return undo


__all__ = [
    "HARNESS",
    "Config",
    "Harness",
    "Hooks",
    "Prov",
    "TracerMode",
    "get_prov",
    "set_prov",
]
