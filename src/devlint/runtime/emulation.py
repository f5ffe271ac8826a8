"""The emulated accelerator: a CUDA device made of the CPU, for CPU-only machines and CI.

`EmulatedTensor` is a wrapper tensor subclass.  To PyTorch's C++ side it is an ordinary
CPU tensor (its TensorImpl says `cpu`), so autograd, optimizers, `.grad`, `.item()`,
DataLoader and every CPU kernel work with real values; to Python it says `device ==
cuda:0`, `is_cuda`, `get_device() == 0`, `type() == 'torch.cuda.FloatTensor'` and prints
`device='cuda:0'`.  Every ATen operator that reaches a wrapped tensor goes through
`__torch_dispatch__`, where the operands' devices are checked as a CUDA build checks them
(`devlint.runtime.opinfo`: the per-operator rules generated from native_functions.yaml),
then the operator runs on the CPU values and its results are wrapped again.  A mismatch
raises PyTorch's own error text, recorded first with the user's frames and the operands'
provenance, or, with `--keep-going`, is healed (the operation runs as if the operands had
been moved to the accelerator) and the program goes on.

Moves (`Tensor.to/cuda/cpu/type`), factories with `device=`, `new_*`, `.numpy()`,
`torch.load`/`torch.save` and the `torch.cuda`/`torch.accelerator` APIs are patched while
the emulation is installed.  Moves are autograd functions, so gradients cross devices as
on a GPU; `nn.Module.to` swaps each parameter in place (`torch.utils.swap_tensors`), so
parameter identity is kept as a real `.to()` keeps it.  `torch.save` of emulated tensors
writes ordinary checkpoints whose storages are tagged `cuda:N` (no devlint class inside):
`weights_only=True` loads them and a CPU-only load without `map_location` fails exactly as
after a real GPU run.  `torch.autocast("cuda")` runs as CPU autocast in float16 (its
operator lists differ from CUDA's: see docs/runtime.md), `torch.compile` runs eager.

What this does not emulate: device memory and streams (every stream is the CPU, nothing
runs asynchronously), CUDA-only kernels and their numerics (a program gets CPU results,
bit-identical to a CPU run), `torch.Generator(device="cuda")`, and custom C++/CUDA
extensions.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import threading
import types
from collections import OrderedDict
from typing import Any, Optional

import torch
from torch import nn

from devlint.runtime import opinfo
from devlint.runtime._sites import innermost_user_site
from devlint.runtime.tracer import (
    _CALL,
    _ORIG,
    LEGACY_DEVICE_MESSAGE,
    Harness,
    Hooks,
    Prov,
    TracerMode,
    autograd_leaves,
    checkpoint_storages,
    get_prov,
    inherit,
    legacy_original,
    load_event,
    make_event,
    mark_recorded,
    operand_record,
    parse_to,
    record_move,
    set_prov,
    type_argument,
)

Tensor = torch.Tensor
CPU = torch.device("cpu")
ACCEL = "cuda"  # the device type the emulation plays

_STATE = threading.local()


class _CurrentDevice(threading.local):
    """The current device, per thread as on CUDA: `torch.cuda.set_device` and `with
    torch.cuda.device(i)` change it for the calling thread only, and a new thread starts
    on device 0 (DataParallel's replica threads each enter their own device)."""

    index = 0


_CURRENT = _CurrentDevice()


class _Emu:
    """Process-wide emulation state (one per installed harness)."""

    harness: Optional[Harness] = None
    device_count: int = 1
    table: Optional[opinfo.OpTable] = None
    saving: dict[int, str] = {}
    notes: list[str] = []
    # --keep-going: creation sites whose CPU values a heal moved to the accelerator.  Healing
    # stands for the fix (`.to(device)` where the value was made), so every value made there,
    # or derived from one, is on the accelerator from then on: `labels[idx]` taken again on
    # the next line is no new error (the fixed program has none).
    healed_origins: set = set()

    @property
    def current(self) -> int:
        """The calling thread's current device index (`torch.cuda.current_device()`)."""
        return _CURRENT.index

    @current.setter
    def current(self, index: int) -> None:
        _CURRENT.index = index


EMU = _Emu()


def _table() -> opinfo.OpTable:
    if EMU.table is None:
        EMU.table = opinfo.OpTable.load()
    return EMU.table


# --- the tensor ---------------------------------------------------------------------------


class EmulatedTensor(Tensor):
    """A CPU tensor that the program sees on the emulated accelerator."""

    _devlint_emulated = True
    __torch_function__ = torch._C._disabled_torch_function_impl

    @staticmethod
    def __new__(
        cls,
        inner: Tensor,
        device: torch.device,
        prov: Optional[Prov] = None,
        requires_grad: bool = False,
    ):
        r = Tensor._make_wrapper_subclass(
            cls,
            inner.size(),
            strides=inner.stride(),
            storage_offset=inner.storage_offset(),
            dtype=inner.dtype,
            layout=inner.layout,
            device=inner.device,
            requires_grad=requires_grad,
        )
        r.__dict__["_inner"] = inner
        r.__dict__["_emu_device"] = device
        if prov is not None:
            r.__dict__["_devlint_prov"] = prov
        return r

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    # -- what Python sees --
    @property
    def device(self) -> torch.device:  # type: ignore[override]
        return self._emu_device

    @property
    def is_cuda(self) -> bool:  # type: ignore[override]
        return self._emu_device.type == "cuda"

    @property
    def is_cpu(self) -> bool:  # type: ignore[override]
        return False

    def get_device(self) -> int:  # type: ignore[override]
        return self._emu_device.index or 0

    def type(self, dtype=None, non_blocking=False, **kwargs):  # type: ignore[override]
        if dtype is None and not kwargs:
            return opinfo.legacy_type_name(str(self.dtype).replace("torch.", ""), ACCEL)
        return HOOKS.move("type", self, (dtype,) if dtype is not None else (), kwargs)  # type: ignore[union-attr]

    def numpy(self, *, force: bool = False):  # type: ignore[override]
        __tracebackhide__ = True
        if force:
            return self._inner.detach().numpy(force=True).copy()
        exc = TypeError(
            f"can't convert {self._emu_device} device type tensor to numpy. "
            "Use Tensor.cpu() to copy the tensor to host memory first."
        )
        return HOOKS.numpy_error(self, exc, sys._getframe(1))  # type: ignore[union-attr]

    def tolist(self):  # type: ignore[override]
        return self._inner.tolist()

    def untyped_storage(self):  # type: ignore[override]
        return self._inner.untyped_storage()

    def is_pinned(self, device=None) -> bool:  # type: ignore[override]
        return False

    def pin_memory(self, device=None):  # type: ignore[override]
        raise RuntimeError(f"cannot pin '{self.type()}' only dense CPU tensors can be pinned")

    def __repr__(self, *, tensor_contents=None) -> str:  # type: ignore[override]
        with torch.no_grad():
            inner = repr(self._inner.detach())
        body = inner[:-1]
        cut = len(body)
        tail_start = body.rfind("]") + 1 if "]" in body else len("tensor(")
        for key in (", size=", ", dtype=", ", layout="):
            i = body.find(key, tail_start)
            if i != -1:
                cut = min(cut, i)
        text = body[:cut] + f", device='{self._emu_device}'" + body[cut:]
        if self.grad_fn is not None:
            text += f", grad_fn=<{type(self.grad_fn).__name__}>"
        elif self.requires_grad:
            text += ", requires_grad=True"
        text += ")"
        if self.__dict__.get("_is_param"):
            text = "Parameter containing:\n" + text
        return text

    def __format__(self, spec: str) -> str:
        if self.dim() == 0:
            return self.item().__format__(spec)
        return object.__format__(self, spec) if spec else repr(self)

    def __reduce_ex__(self, proto):
        inner = self._inner.detach()
        EMU.saving[inner.untyped_storage().data_ptr()] = str(self._emu_device)
        if self.__dict__.get("_is_param"):
            return (torch._utils._rebuild_parameter, (inner, self.requires_grad, OrderedDict()))
        if self.requires_grad and self.is_leaf:
            inner.requires_grad_(True)
        return inner.__reduce_ex__(proto)

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        with torch.no_grad():
            inner = self._inner.clone()
        new = EmulatedTensor(
            inner, self._emu_device, get_prov(self), requires_grad=self.requires_grad
        )
        for key, value in self.__dict__.items():
            if key not in ("_inner", "_emu_device", "_devlint_prov"):
                new.__dict__[key] = value if key == "_is_param" else _deepcopy(value, memo)
        if self.grad is not None:
            new.grad = _deepcopy(self.grad, memo)
        memo[id(self)] = new
        return new

    # swap_tensors (nn.Module.to) needs the traceable-wrapper protocol
    def __tensor_flatten__(self):
        return ["_inner"], (self._emu_device, get_prov(self))

    @staticmethod
    def __tensor_unflatten__(inner_tensors, meta, outer_size, outer_stride):
        return EmulatedTensor(inner_tensors["_inner"], meta[0], meta[1])

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        __tracebackhide__ = True
        return _dispatch(func, args, kwargs or {})


def _deepcopy(value, memo):
    import copy

    return copy.deepcopy(value, memo)


def is_emulated(t: Any) -> bool:
    return type(t) is EmulatedTensor


def wrap(
    inner: Tensor, device: torch.device, prov: Optional[Prov] = None, requires_grad: bool = False
) -> EmulatedTensor:
    return EmulatedTensor(inner, device, prov, requires_grad=requires_grad)


def emu_device_of(t: Tensor) -> torch.device:
    return t._emu_device if type(t) is EmulatedTensor else t.device


# --- dispatch --------------------------------------------------------------------------------


def _unwrap(a):
    t = type(a)
    if t is EmulatedTensor:
        return a._inner
    if t is list or t is tuple:
        return t(x._inner if type(x) is EmulatedTensor else x for x in a)
    return a


_ALIASES: dict[Any, tuple] = {}


def _mutable_returns(func) -> tuple:
    """For each return, the index (or name) of the argument it writes into, else None."""
    got = _ALIASES.get(func)
    if got is not None:
        return got
    schema = func._schema
    out: list = []
    for ret in schema.returns:
        info = ret.alias_info
        target = None
        if info is not None and info.is_write:
            for i, arg in enumerate(schema.arguments):
                ainfo = arg.alias_info
                if ainfo is not None and ainfo.is_write and ainfo.before_set == info.before_set:
                    target = (i, arg.name)
                    break
        out.append(target)
    result = tuple(out)
    _ALIASES[func] = result
    return result


def _arg(args, kwargs, target):
    i, name = target
    if i < len(args):
        return args[i]
    return kwargs.get(name)


_METADATA_INPLACE = {
    "unsqueeze_",
    "squeeze_",
    "t_",
    "transpose_",
    "swapdims_",
    "swapaxes_",
    "as_strided_",
    "resize_",
    "resize_as_",
    "set_",
    "detach_",
}


def _dispatch(func, args, kwargs):
    __tracebackhide__ = True
    if func._schema.name == "aten::_pack_padded_sequence":
        healed = _host_lengths(func, args, kwargs)
        if healed is not None:
            return healed
    # Which emulated devices, and are (tagged) plain tensors mixed in?
    dev = None  # the accelerator device of the results (an emulated CPU only inside composites)
    prov = None
    first = None
    mixed = False
    plain = False
    for seq in (args, kwargs.values()):
        for a in seq:
            ta = type(a)
            if ta is EmulatedTensor:
                items = (a,)
            elif ta is list or ta is tuple:
                items = a
            elif isinstance(a, Tensor):
                if not plain and _tagged(a):
                    plain = True
                continue
            else:
                continue
            for b in items:
                if type(b) is EmulatedTensor:
                    d = b._emu_device
                    if first is None:
                        first = d
                        prov = b.__dict__.get("_devlint_prov")
                    elif d != first:
                        mixed = True
                    if dev is None and d.type != "cpu":
                        dev = d
                elif (
                    ta is not EmulatedTensor and isinstance(b, Tensor) and not plain and _tagged(b)
                ):
                    plain = True
    if dev is None:
        dev = first
    to_cpu = False
    if mixed or plain:
        verdict = check(func, args, kwargs)
        if verdict is REDISPATCH:
            return _redispatch(func, args, kwargs)
        if verdict is HEALED:
            prov = (prov or Prov(None))._replace(healed=True)
        elif verdict is HEALED_CPU:
            to_cpu = True
    name = func._schema.name
    if name == "aten::record_stream":
        return None  # one stream: nothing to record
    uargs = tuple(_unwrap(a) for a in args)
    ukwargs = {k: _unwrap(v) for k, v in kwargs.items()} if kwargs else kwargs
    try:
        out = func(*uargs, **ukwargs)
    except NotImplementedError as exc:
        if "from the 'CPU' backend" not in str(exc):
            raise
        # A CUDA-only operator (SyncBatchNorm's batch_norm_stats, ...): the emulated
        # accelerator runs CPU kernels, and there is none.  Said as the emulator's limit,
        # so the run is reported as one the emulator could not finish.
        raise NotImplementedError(
            f"devlint emulation: {name} has no CPU kernel (a CUDA-only operator), so the "
            "emulated accelerator cannot run it"
        ) from exc
    if name[6:] in _METADATA_INPLACE:
        _sync_metadata(func, args, kwargs)
    mut = _mutable_returns(func)

    def wrap_one(o):
        return o if to_cpu else EmulatedTensor(o, dev, prov)

    if isinstance(out, Tensor):
        if mut and mut[0] is not None:
            return _arg(args, kwargs, mut[0])
        return wrap_one(out)
    if isinstance(out, (tuple, list)):
        res = []
        for i, o in enumerate(out):
            if isinstance(o, Tensor):
                if i < len(mut) and mut[i] is not None:
                    res.append(_arg(args, kwargs, mut[i]))
                else:
                    res.append(wrap_one(o))
            elif isinstance(o, list) and o and isinstance(o[0], Tensor):
                res.append([wrap_one(x) if isinstance(x, Tensor) else x for x in o])
            else:
                res.append(o)
        return type(out)(res) if isinstance(out, tuple) else res
    return out


def _host_lengths(func, args, kwargs):
    """`pack_padded_sequence` reads its lengths on the host: a CUDA build rejects lengths
    on the accelerator, whatever device the data is on (PackedSequence.cpp), with this
    message.  Healed (--keep-going), the lengths are read where they are, as `.cpu()`
    would."""
    __tracebackhide__ = True
    lengths = args[1] if len(args) > 1 else kwargs.get("lengths")
    if type(lengths) is not EmulatedTensor or lengths._emu_device.type == "cpu":
        return None
    d = _ds(lengths)
    message = (
        f"'lengths' argument should be a 1D CPU int64 tensor, but got {lengths.dim()}D {d} "
        "Long tensor"
    )
    _fail(func, message, d, "cpu", _operands(func, args, kwargs))
    data = args[0] if args else kwargs.get("input")
    rest = {k: v for k, v in kwargs.items() if k not in ("input", "lengths")}
    packed, batch_sizes = func(_unwrap(data), lengths._inner, *args[2:], **rest)
    if type(data) is EmulatedTensor:
        packed = EmulatedTensor(packed, data._emu_device, data.__dict__.get("_devlint_prov"))
    return packed, batch_sizes  # batch sizes on the host, as PyTorch makes them


def _redispatch(func, args, kwargs):
    """Run the composite kernel, as a GPU build does for an operator without a CUDA
    kernel, so the operators it calls are checked.  Tagged CPU operands enter it as
    emulated CPU tensors, so what the kernel computes from them keeps their device."""
    __tracebackhide__ = True

    def lift(a):
        if type(a) is EmulatedTensor or not isinstance(a, Tensor):
            if isinstance(a, (list, tuple)):
                return type(a)(lift(b) for b in a)
            return a
        if _tagged(a):
            return EmulatedTensor(a, CPU, get_prov(a))
        return a

    names = _argument_names(func)
    largs = tuple(
        a if i < len(names) and names[i] in HOST_ARGUMENTS else lift(a) for i, a in enumerate(args)
    )
    lkwargs = {k: v if k in HOST_ARGUMENTS else lift(v) for k, v in kwargs.items()}
    out = func._op_dk(torch._C.DispatchKey.CompositeExplicitAutograd, *largs, **lkwargs)
    mut = _mutable_returns(func)

    def lower(o, i):
        if i < len(mut) and mut[i] is not None:
            return _arg(args, kwargs, mut[i])
        if type(o) is EmulatedTensor and o._emu_device.type == "cpu":
            return o._inner
        return o

    if isinstance(out, Tensor):
        return lower(out, 0)
    if isinstance(out, (tuple, list)):
        res = [lower(o, i) if isinstance(o, Tensor) else o for i, o in enumerate(out)]
        return type(out)(res) if isinstance(out, tuple) else res
    return out


# Arguments that kernels read on the host through their data pointer, on every build: the
# lengths and batch sizes of packed sequences (`pack_padded_sequence` requires CPU lengths
# whatever device the data is on).  Lifted into wrappers, they would have no data.
HOST_ARGUMENTS = frozenset({"lengths", "batch_sizes"})
# CTC loss with plain tensors copies its lengths to the CPU and its targets to the log
# probabilities' device before any kernel sees them (LossCTC.cpp); only tensor subclasses,
# such as the emulated ones, take the path whose CUDA kernel checks their devices.
CTC_HOST_ARGUMENTS = frozenset({"targets", "input_lengths", "target_lengths"})
_NAMES: dict[Any, tuple[str, ...]] = {}


def _argument_names(func) -> tuple[str, ...]:
    names = _NAMES.get(func)
    if names is None:
        names = _NAMES[func] = tuple(a.name for a in func._schema.arguments)
    return names


def _sync_metadata(func, args, kwargs) -> None:
    """In-place metadata ops change the inner tensor; give the wrapper the same shape."""
    self = args[0]
    if type(self) is not EmulatedTensor:
        return
    inner = self._inner
    if tuple(self.shape) == tuple(inner.shape) and self.stride() == inner.stride():
        return
    with torch._C.DisableTorchFunction(), _no_python_dispatch():
        if inner.numel() == self.numel():
            Tensor.as_strided_(self, inner.size(), inner.stride(), inner.storage_offset())
        else:
            raise NotImplementedError(
                "devlint emulation: resizing an emulated tensor in place is not supported"
            )


@contextlib.contextmanager
def _no_python_dispatch():
    guard = torch._C._DisableTorchDispatch()
    try:
        yield
    finally:
        del guard


REDISPATCH = object()


# --- the device checks (see devlint.runtime.opinfo) ---------------------------------------------


def _tagged(t: Tensor) -> bool:
    """A plain tensor the program made where the harness saw it.  Untagged plain tensors
    are C++ temporaries (made with the options of an emulated operand, so CPU to PyTorch
    but on the accelerator on a GPU) or of unknown origin: they follow their operation.
    Inside a `torch.nn.functional` function, which runs with the mode off, a view of a
    tagged tensor (the `expand` that `F.binary_cross_entropy` applies to its `weight=`) is
    that tensor's memory: tagged.  Not elsewhere: the views the autograd engine or an
    optimizer make (of gradients) are not the program's.  Such a view takes its base's
    provenance here, so that its events name where the program made it."""
    if get_prov(t) is not None:
        return True
    if getattr(_CALL.func, "__module__", None) != "torch.nn.functional" or t._base is None:
        return False
    prov = get_prov(t._base)
    if prov is None:
        return False
    set_prov(t, prov)
    return True


def _counts(t: Any) -> bool:
    return isinstance(t, Tensor) and (type(t) is EmulatedTensor or _tagged(t))


def _operands(func, args, kwargs):
    """(name, tensor, is_out, kwarg_only) for every tensor operand, in schema order
    (emulated tensors and tagged plain ones: see `_tagged`)."""
    result = []
    for i, arg in enumerate(func._schema.arguments):
        if i < len(args):
            v = args[i]
        elif arg.name in kwargs:
            v = kwargs[arg.name]
        else:
            continue
        if arg.name in HOST_ARGUMENTS and type(v) is not EmulatedTensor:
            continue  # CPU lengths and batch sizes are what every build expects
        if (
            arg.name in CTC_HOST_ARGUMENTS
            and type(v) is not EmulatedTensor
            and "ctc" in str(func._schema.name)
        ):
            continue
        if isinstance(v, Tensor):
            if type(v) is EmulatedTensor or _tagged(v):
                result.append((arg.name, v, arg.is_out, arg.kwarg_only))
        elif isinstance(v, (list, tuple)):
            for b in v:
                if isinstance(b, Tensor) and (type(b) is EmulatedTensor or _tagged(b)):
                    result.append((arg.name, b, arg.is_out, arg.kwarg_only))
    return result


def _ds(t: Tensor) -> str:
    return str(emu_device_of(t))


def _healed(t: Tensor) -> bool:
    p = t.__dict__.get("_devlint_prov")
    return p is not None and (p.healed or (p.origin is not None and p.origin in EMU.healed_origins))


def _fail(func, message: str, common: str, odd: str, operands, exc_type=RuntimeError):
    """Record a mismatch; raise PyTorch's error, or return when --keep-going heals it."""
    __tracebackhide__ = True
    op = str(func._schema.name) + (
        f".{func._schema.overload_name}" if func._schema.overload_name else ""
    )
    return report_mismatch(op, message, common, odd, operands, sys._getframe(2), exc_type)


def report_mismatch(op, message, common, odd, operands, frame, exc_type=RuntimeError):
    __tracebackhide__ = True
    harness = EMU.harness
    keep = harness is not None and harness.keep_going
    if keep and _in_backward():
        # The forward ran, healed: what backward mixes is its consequence.  Gradients of
        # tensors that stayed on the CPU (not healed) stay on the CPU.
        if any(type(t) is not EmulatedTensor and not _healed(t) for _, t, _, _ in operands):
            return HEALED_CPU
        return HEALED
    if keep and any(_healed(t) for _, t, _, _ in operands):
        # A consequence of a mismatch already recorded and healed (its CPU side, or
        # something computed from a healed operation): heal it without a new event.
        _mark_cpu_side(operands)
        return HEALED
    event = make_event(
        "mismatch",
        op,
        message,
        exc_type.__name__,
        [common, odd],
        [operand_record(n, t) for n, t, _, _ in operands],
        frame=frame,
    )
    event["healed"] = keep
    if harness is not None:
        harness.record(event)
    if not keep:
        raise mark_recorded(exc_type(message))
    _mark_cpu_side(operands)
    return HEALED


def _mark_cpu_side(operands) -> None:
    """Healing moves the CPU side to the accelerator: the CPU operands, and the CPU
    parameters and buffers of the outermost module running (as `model.to(device)` would)."""
    for _, t, _, _ in operands:
        if emu_device_of(t).type == "cpu":
            _mark(t)
            _mark_leaves(t)
    stack = MODULES.stack
    if stack:
        root = stack[0]
        for t in (*root.parameters(), *root.buffers()):
            if type(t) is not EmulatedTensor and not _healed(t):
                _mark(t)


def _mark_leaves(t: Tensor, limit: int = 10000) -> None:
    """The CPU leaves (parameters) a healed CPU operand was computed from: their gradients
    now come from the accelerator, as if they had been moved with it."""
    for leaf in autograd_leaves([getattr(t, "grad_fn", None)], limit):
        if type(leaf) is not EmulatedTensor and not _healed(leaf):
            _mark(leaf)


def _mark(t: Tensor) -> None:
    prov = get_prov(t) or Prov(None)
    set_prov(t, prov._replace(healed=True))
    if prov.origin is not None and emu_device_of(t).type == "cpu":
        EMU.healed_origins.add(prov.origin)
    if type(t) is EmulatedTensor and t._emu_device.type == "cpu":
        _mark(t._inner)  # the program's own CPU tensor, lifted into a composite kernel


class _ModuleStack(threading.local):
    def __init__(self) -> None:
        self.stack: list = []


MODULES = _ModuleStack()


def _push_module(module, args):
    MODULES.stack.append(module)


def _pop_module(module, args, output):
    stack = MODULES.stack
    if stack and stack[-1] is module:
        stack.pop()
    elif module in stack:
        del stack[stack.index(module) :]


def track_modules():
    """Keep the stack of running modules (for --keep-going healing)."""
    from torch.nn.modules import module as module_mod

    h1 = module_mod.register_module_forward_pre_hook(_push_module)
    h2 = (
        module_mod.register_module_forward_hook(_pop_module, always_call=True)
        if "always_call" in module_mod.register_module_forward_hook.__code__.co_varnames
        else module_mod.register_module_forward_hook(_pop_module)
    )
    return h1, h2


HEALED = object()
HEALED_CPU = object()


def _in_backward() -> bool:
    task = getattr(torch._C, "_current_graph_task_id", None)
    return task is not None and task() != -1


def check(func, args, kwargs):
    """None when a CUDA build accepts the operands' devices (after recording and healing
    under --keep-going); REDISPATCH to run the composite kernel; raises otherwise."""
    __tracebackhide__ = True
    schema = func._schema
    base = schema.name[6:]
    full = base + (f".{schema.overload_name}" if schema.overload_name else "")
    operands = _operands(func, args, kwargs)
    if any(emu_device_of(t).type == "meta" for _, t, _, _ in operands):
        return None
    special = SPECIAL.get(base)
    if special is not None:
        return special(func, args, kwargs, operands)
    table = _table()
    info = table.get(full)
    if info is None:
        return None
    cuda_kernel = table.has_kernel(info, "CUDA") or table.is_structured(info)
    iterator = info.device_check == opinfo.NO_CHECK and table.is_tensor_iterator(info)
    if cuda_kernel and info.device_check == opinfo.EXACT_SAME:
        return _check_exact(func, info, operands, table)
    if cuda_kernel and iterator:
        return _check_iterator(func, operands, base)
    if "CompositeExplicitAutograd" in info.dispatch_keys and hasattr(func, "_op_dk"):
        # No CUDA kernel (the composite one runs on a GPU too), or one that falls back to
        # the composite kernel when the devices differ (the foreach operators): the
        # operators it calls are checked.
        return REDISPATCH
    if iterator:
        return _check_iterator(func, operands, base)
    return None


def _check_exact(func, info, operands, table):
    __tracebackhide__ = True
    ordered = [o for o in operands if o[2]] + [o for o in operands if not o[2] and not o[3]]
    common = None
    for name, t, _, _ in ordered:
        d = _ds(t)
        if common is None:
            common = d
            continue
        if d != common:
            method = opinfo.wrapper_name(
                info, "CUDA", table.is_structured(info), is_out=any(o[2] for o in operands)
            )
            return _fail(
                func, opinfo.exact_same_message(name, d, common, method), common, d, operands
            )
    return None


def _check_iterator(func, operands, base):
    __tracebackhide__ = True
    schema = func._schema
    inplace = (
        bool(schema.arguments)
        and schema.arguments[0].alias_info is not None
        and schema.arguments[0].alias_info.is_write
        and not schema.arguments[0].is_out
    )
    outputs = [o for o in operands if o[2]]
    if inplace and operands:
        outputs = [operands[0], *outputs]
    inputs = [o for o in operands if not o[2]]
    common = "cpu"
    for _, t, _, _ in outputs + inputs:
        d = _ds(t)
        if common == "cpu" and not d.startswith("cpu"):
            common = d
    if common == "cpu":
        return None
    scalars = 0
    allow_many = base in ("where",)
    for idx, (_, t, _, _) in enumerate(outputs + inputs):
        is_output = idx < len(outputs)
        d = _ds(t)
        if not is_output and d == "cpu" and t.dim() == 0:
            scalars += 1
            if scalars > 1 and not allow_many:
                return _fail(
                    func,
                    "Trying to pass too many CPU scalars to non-CPU kernel!",
                    common,
                    d,
                    operands,
                )
            continue
        if d != common:
            return _fail(func, opinfo.tensor_iterator_message(common, d), common, d, operands)
    return None


def _check_index(func, args, kwargs, operands):
    __tracebackhide__ = True
    self = args[0]
    sd = _ds(self)
    indices = args[1] if len(args) > 1 else kwargs.get("indices", ())
    for idx in indices or ():
        if _counts(idx):
            d = _ds(idx)
            if d != sd and d != "cpu":
                return _fail(
                    func,
                    f"indices should be either on cpu or on the same device as the indexed tensor ({sd})",
                    sd,
                    d,
                    operands,
                )
    values = args[2] if len(args) > 2 else kwargs.get("values")
    if _counts(values) and _counts(self):
        vd = _ds(values)
        if vd != sd and not (vd == "cpu" and values.dim() == 0):
            common = sd if sd != "cpu" else vd
            other = vd if common == sd else sd
            return _fail(
                func, opinfo.tensor_iterator_message(common, other), common, other, operands
            )
    return None


def _check_masked_fill(func, args, kwargs, operands):
    __tracebackhide__ = True
    self, mask = args[0], args[1]
    sd, md = _ds(self), _ds(mask)
    if sd != md and _counts(self) and _counts(mask):
        return _fail(
            func,
            f"expected self and mask to be on the same device, but got mask on {md} and self on {sd}",
            sd,
            md,
            operands,
        )
    return None


def _legacy(t: Tensor) -> str:
    d = emu_device_of(t)
    return opinfo.legacy_type_name(str(t.dtype).replace("torch.", ""), d.type)


def _check_convolution(func, args, kwargs, operands):
    __tracebackhide__ = True
    inp, weight = args[0], args[1]
    bias = args[2] if len(args) > 2 else kwargs.get("bias")
    idev = _ds(inp)
    if not _counts(inp):
        return None
    for what, other in (("weight", weight), ("bias", bias)):
        if not _counts(other):
            continue
        od = _ds(other)
        if od == idev:
            continue
        message = (
            f"Input type ({_legacy(inp)}) and {what} type ({_legacy(other)}) should be the same"
        )
        if idev == "cpu":
            message += f" or input should be a MKLDNN tensor and {what} is a dense tensor"
        common, odd = (od, idev) if idev == "cpu" else (idev, od)
        return _fail(func, message, common, odd, operands)
    return None


def _check_attention(func, args, kwargs, operands):
    """`scaled_dot_product_attention` on the CPU runs a fused CPU kernel, which has no CUDA
    counterpart to take the device check from, and which accepts a CPU `attn_mask` beside
    emulated query, key and value.  A GPU picks a fused CUDA kernel (efficient attention
    when there is a mask) whose wrapper requires one device for all of them: a CPU
    `key_padding_mask` given to `nn.MultiheadAttention` raised on a real H200 and ran here."""
    __tracebackhide__ = True
    table = _table()
    info = table.get("_scaled_dot_product_efficient_attention") or table.get(
        str(func._schema.name)[6:]
    )
    if info is None:
        return None
    # `attn_mask` is keyword-only here and positional (`attn_bias`) in the CUDA kernels.
    return _check_exact(func, info, [(n, t, out, False) for n, t, out, _ in operands], table)


def _allow(func, args, kwargs, operands):
    return None


SPECIAL = {
    "index": _check_index,
    "_unsafe_index": _check_index,
    "index_put": _check_index,
    "index_put_": _check_index,
    "_index_put_impl_": _check_index,
    "_unsafe_index_put": _check_index,
    "masked_fill_": _check_masked_fill,
    "_scaled_dot_product_flash_attention_for_cpu": _check_attention,
    "convolution": _check_convolution,
    "_convolution": _check_convolution,
    "convolution_overrideable": _check_convolution,
    "copy_": _allow,
    "_to_copy": _allow,
    "_copy_from": _allow,
    "_copy_from_and_resize": _allow,
    "set_": _allow,
    "lift_fresh": _allow,
}


# --- moves ---------------------------------------------------------------------------------


class _ToEmulated(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, device):
        src = x._inner if type(x) is EmulatedTensor else x
        ctx.src_device = emu_device_of(x)
        return EmulatedTensor(src.detach().clone(), device)

    @staticmethod
    def backward(ctx, grad):
        inner = grad._inner if type(grad) is EmulatedTensor else grad
        if ctx.src_device.type == "cpu":
            return inner, None
        return EmulatedTensor(inner, ctx.src_device), None


class _ToCPU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.src_device = x._emu_device
        return x._inner.detach().clone()

    @staticmethod
    def backward(ctx, grad):
        inner = grad._inner if type(grad) is EmulatedTensor else grad
        return EmulatedTensor(inner, ctx.src_device)


def _normalize(device: Any) -> torch.device:
    if isinstance(device, int):
        return torch.device(ACCEL, device)
    d = torch.device(device)
    if d.type == ACCEL and d.index is None:
        return torch.device(ACCEL, EMU.current)
    return d


def note(text: str) -> None:
    """A line for the report's notes (each said once)."""
    if text not in EMU.notes:
        EMU.notes.append(text)


def _validate(device: torch.device) -> None:
    if device.type == ACCEL and (device.index or 0) >= EMU.device_count:
        note(
            f"the program asked for {device}, and the emulation has {EMU.device_count} "
            f"device{'s' if EMU.device_count != 1 else ''} ({ACCEL}:0"
            f"{f' to {ACCEL}:{EMU.device_count - 1}' if EMU.device_count > 1 else ''}): "
            "give `devlint confirm --devices N` for a program that needs N"
        )
        raise RuntimeError(
            "CUDA error: invalid device ordinal\n"
            "CUDA kernel errors might be asynchronously reported at some other API call, "
            "so the stacktrace below might be incorrect.\n"
            "For debugging consider passing CUDA_LAUNCH_BLOCKING=1"
        )
    if device.type not in ("cpu", "meta", ACCEL):
        raise RuntimeError(
            f"devlint emulation: device type {device.type!r} is not emulated "
            f"(the emulated accelerator is {ACCEL!r})"
        )


def _legacy_cpu_name(orig: Any) -> str:
    return f"torch.{getattr(orig, '__name__', 'Tensor')}"


# lazy modules' parameters and buffers before their first call
_UNINITIALIZED = nn.parameter.UninitializedTensorMixin


def _materialize(orig: Any) -> Any:
    """`UninitializedParameter.materialize` for a lazy parameter moved to the emulated
    accelerator (`EmulationHooks.move_uninitialized`): its values are made there, and the
    object becomes that emulated parameter (or buffer) in place."""

    def materialize(self: Any, shape: Any, device: Any = None, dtype: Any = None) -> None:
        target = self.__dict__.get("_devlint_target")
        if target is None or device is not None:
            return orig(self, shape, device=device, dtype=dtype)
        value = torch.empty(shape, device=target, dtype=dtype or self.dtype)
        requires_grad = self.requires_grad
        if self.cls_to_become is nn.Parameter:
            value = nn.Parameter(value, requires_grad=requires_grad)
        elif requires_grad:
            value.requires_grad_(True)
        del self.__dict__["_devlint_target"]
        torch.utils.swap_tensors(self, value)
        return None

    return materialize


# The CPU legacy types by name (the originals: `torch.FloatTensor` is a stand-in while the
# harness is installed), to build what `torch.cuda.FloatTensor(...)` makes.
_LEGACY_CPU: dict[str, Any] = {
    c.__name__: c for c in getattr(torch, "_tensor_classes", ()) if c.__module__ == "torch"
}


class EmulationHooks(Hooks):
    def install(self) -> None:
        super().install()
        self.patch(Tensor, "pin_memory", lambda self, device=None: self)
        self.patch(Tensor, "is_pinned", lambda self, device=None: False)
        self.patch(_UNINITIALIZED, "materialize", _materialize(_UNINITIALIZED.materialize))

    def target_of(self, kind, src, args, kwargs):
        target = super().target_of(kind, src, args, kwargs)
        if target is None:
            return None
        return _normalize(target)

    def move(self, kind: str, src: Tensor, args: tuple, kwargs: dict):
        __tracebackhide__ = True
        if kind == "type" and not args and "dtype" not in kwargs:
            return _ORIG["type"](src) if type(src) is not EmulatedTensor else src.type()
        target = self.target_of(kind, src, args, kwargs)
        src_dev = emu_device_of(src)
        if target is not None:
            _validate(target)
        dtype = memory_format = None
        copy = False
        if kind == "to":
            _, dtype, _, copy, memory_format, _ = parse_to(args, kwargs)
        elif kind == "type":
            dtype = type_argument(args[0] if args else kwargs.get("dtype"))[1]
        elif kind in ("cuda", "cpu"):
            memory_format = kwargs.get("memory_format")
        if target is None or target == src_dev:
            if kind == "to":
                kw = {"copy": copy}
                if dtype is not None:
                    kw["dtype"] = dtype
                if memory_format is not None:
                    kw["memory_format"] = memory_format
                return _ORIG["to"](src, **kw)
            if kind == "type":
                return _ORIG["to"](src, dtype) if dtype is not None else src
            if memory_format not in (None, torch.preserve_format):
                return src.contiguous(memory_format=memory_format)
            return src
        if src_dev.type not in ("cpu", ACCEL) or target.type not in ("cpu", ACCEL):
            return _ORIG[kind](src, *args, **kwargs)
        if isinstance(src, _UNINITIALIZED):
            return self.move_uninitialized(src, target, dtype)
        if target.type == ACCEL:
            out = _ToEmulated.apply(src, target)
        else:
            out = _ToCPU.apply(src)
        if dtype is not None and dtype != out.dtype:
            out = _ORIG["to"](out, dtype)
        if memory_format not in (None, torch.preserve_format):
            out = out.contiguous(memory_format=memory_format)
        site = innermost_user_site(sys._getframe())
        if site is not None:
            record_move(src, out, target, site)
        else:
            set_prov(out, Prov(None))
        return out

    @staticmethod
    def move_uninitialized(src: Tensor, target: torch.device, dtype: Any) -> Tensor:
        """A lazy module's parameter or buffer holds no values until its first call, and
        every operation but a move raises on it.  Moved, it stays uninitialized and
        remembers where it goes; `materialize` (patched in `install`) makes its values
        there.  The mark goes on the moved object and on the original too, which
        `Module._apply` may keep (`param.data = moved`)."""
        out = type(src)(requires_grad=src.requires_grad, dtype=dtype or src.dtype)
        for t in (src, out):
            if target.type == ACCEL:
                t.__dict__["_devlint_target"] = target
            else:
                t.__dict__.pop("_devlint_target", None)
        return out

    def from_dlpack(self, orig: Any, ext: Any, args: tuple, kwargs: dict) -> Any:
        """DLPack of an emulated tensor would export its CPU values (a CPU tensor, where a
        GPU gives the same CUDA memory back): the same memory on the same device is its
        `detach()`."""
        __tracebackhide__ = True
        if type(ext) is EmulatedTensor:
            return ext.detach()
        return super().from_dlpack(orig, ext, args, kwargs)

    # -- legacy constructors (see tracer._LegacyType) --
    def legacy_new(self, orig: Any, args: tuple, kwargs: dict) -> Any:
        """`torch.cuda.FloatTensor(...)` makes an emulated tensor on the current device, as
        a CUDA build makes it on the current GPU; the CPU types make tagged CPU tensors."""
        __tracebackhide__ = True
        frame = sys._getframe(2)
        if not getattr(orig, "is_cuda", False):
            if any(type(a) is EmulatedTensor for a in args):
                raise TypeError(
                    f"expected {_legacy_cpu_name(orig)} (got {args[0].type()}): a legacy CPU "
                    "constructor does not take an accelerator tensor"
                )
            device = kwargs.get("device")
            if device is not None and _normalize(device).type == ACCEL:
                # the CPU build's own message, as a GPU build raises it
                message = f"{LEGACY_DEVICE_MESSAGE}: cpu but device type: {ACCEL} was passed"
                return self.legacy_device(orig, args, kwargs, frame, message)
            out = orig(*args, **kwargs)
            _set_site(out, frame)
            return out
        if getattr(orig, "is_sparse", False):
            return orig(*args, **kwargs)  # not emulated: the CPU build's own error
        kw = dict(kwargs)
        device = kw.pop("device", None)
        target = _normalize(device) if device is not None else torch.device(ACCEL, EMU.current)
        _validate(target)
        cpu_type = _LEGACY_CPU.get(orig.__name__)
        if cpu_type is None:
            return orig(*args, **kwargs)
        out = cpu_type(*(_unwrap(a) for a in args), **kw)
        return EmulatedTensor(out.detach(), target, Prov(innermost_user_site(frame)))

    def legacy_isinstance(self, orig: Any, obj: Any) -> bool:
        """`isinstance(x, torch.cuda.FloatTensor)` is true of an emulated float tensor and
        `isinstance(x, torch.FloatTensor)` is not (its C++ side is a CPU tensor)."""
        if type(obj) is EmulatedTensor:
            return (
                bool(getattr(orig, "is_cuda", False))
                and not getattr(orig, "is_sparse", False)
                and obj.dtype == orig.dtype
            )
        return not getattr(orig, "is_cuda", False) and isinstance(obj, orig)

    def _set_default_tensor_type(self, t: Any) -> None:
        """`torch.set_default_tensor_type(torch.cuda.FloatTensor)`: its dtype, and the
        emulated accelerator as the default device."""
        if isinstance(t, str):
            t = torch._utils._import_dotted_name(t)  # type: ignore[attr-defined]
        orig = legacy_original(t)
        if getattr(orig, "is_cuda", False):
            torch.set_default_dtype(orig.dtype)
            torch.set_default_device(torch.device(ACCEL, EMU.current))
            return
        torch.set_default_device(None)
        super()._set_default_tensor_type(t)

    def _numpy(self, t, *args, **kwargs):
        if type(t) is EmulatedTensor:
            return t.numpy(*args, **kwargs)
        return _ORIG["numpy"](t, *args, **kwargs)

    def factory(self, name: str, orig, args: tuple, kwargs: dict):
        device = kwargs.get("device")
        if device is None and _is_default_device_constructor(orig):
            default = _default_device()
            if default is not None:
                device = default
                kwargs = {**kwargs, "device": default}
        if device is None and name in ("as_tensor", "asarray"):
            return orig(*args, **kwargs)
        target = _normalize(device) if device is not None else None
        if target is None and name == "tensor" and args and type(args[0]) is EmulatedTensor:
            target = args[0]._emu_device
        if target is not None:
            _validate(target)
        kw = dict(kwargs)
        kw.pop("pin_memory", None)
        emulated_in = any(type(a) is EmulatedTensor for a in args)
        if target is None:
            if not emulated_in:
                out = orig(*args, **kw)
                _set_site(out, sys._getframe())
                return out
            out = orig(*args, **kw)  # a `*_like` of an emulated tensor: dispatch wraps it
            return out
        requires_grad = kw.pop("requires_grad", False)
        if device is not None:
            kw["device"] = "cpu"
        uargs = tuple(_unwrap(a) for a in args)
        out = orig(*uargs, **kw)
        if target.type == "cpu" or not isinstance(out, Tensor):
            if requires_grad and isinstance(out, Tensor):
                out.requires_grad_(True)
            _set_site(out, sys._getframe())
            return out
        site = innermost_user_site(sys._getframe())
        return EmulatedTensor(out.detach(), target, Prov(site), requires_grad=requires_grad)

    def new_method(self, name, orig, src, args, kwargs):
        device = kwargs.get("device")
        target = _normalize(device) if device is not None else emu_device_of(src)
        _validate(target)
        if type(src) is not EmulatedTensor and target.type == "cpu":
            out = orig(src, *args, **kwargs)
            _set_site(out, sys._getframe())
            return out
        kw = dict(kwargs)
        kw.pop("pin_memory", None)
        requires_grad = kw.pop("requires_grad", False)
        if device is not None:
            kw["device"] = "cpu"
        inner_src = src._inner if type(src) is EmulatedTensor else src
        out = orig(inner_src, *args, **kw)
        site = innermost_user_site(sys._getframe())
        if target.type == "cpu":
            if requires_grad:
                out.requires_grad_(True)
            set_prov(out, Prov(site))
            return out
        return EmulatedTensor(out.detach(), target, Prov(site), requires_grad=requires_grad)

    # -- torch.load of a checkpoint with (emulated or real) accelerator storages --
    def load(self, orig, f, map_location, args, kwargs):
        """`map_location` honoured as on a GPU (string, device, dict, callable), accelerator
        storages given back as emulated tensors.  A load without map_location is recorded
        with what it met (`load_event`): here there is an accelerator, so a checkpoint with
        accelerator storages loads; that is a load that *would fail* on a CPU-only machine,
        never a failure, and it does not confirm DL008 by itself."""
        frame = sys._getframe()
        places: list[tuple[int, str]] = []
        emulated: dict[int, torch.device] = {}

        def place(storage, location):
            places.append((storage.data_ptr(), str(location)))
            if callable(map_location) and not isinstance(map_location, (str, torch.device, dict)):
                result = map_location(storage, location)
                if result is not None:
                    return result
                dest = location
            elif map_location is None:
                dest = location
            elif isinstance(map_location, dict):
                dest = map_location.get(location, location)
            else:
                dest = str(map_location)
            dest_dev = torch.device(dest) if not isinstance(dest, torch.device) else dest
            if dest_dev.type == ACCEL:
                torch.serialization._validate_device(str(dest_dev), ACCEL)  # type: ignore[attr-defined]
                emulated[storage.data_ptr()] = _normalize(dest_dev)
            elif dest_dev.type not in ("cpu",):
                return torch.serialization.default_restore_location(storage, str(dest_dev))
            return storage

        out = orig(f, place, *args, **kwargs)
        if map_location is None and EMU.harness is not None:
            # Named before the tensors are wrapped: the names follow the plain storages.
            EMU.harness.record(load_event(frame, places, checkpoint_storages(out, places)))
        if emulated:
            out = _rewrap(out, emulated, {}, 0)
        return out


def _set_site(out: Any, frame) -> None:
    if isinstance(out, Tensor) and get_prov(out) is None:
        site = innermost_user_site(frame)
        if site is not None:
            set_prov(out, Prov(site))


def _rewrap(obj: Any, emulated: dict[int, torch.device], memo: dict[int, Any], depth: int) -> Any:
    """Give the tensors that came from accelerator storages back their (emulated) device."""
    key = id(obj)
    if key in memo:
        return memo[key]
    if isinstance(obj, Tensor) and type(obj) is not EmulatedTensor:
        try:
            ptr = obj.untyped_storage().data_ptr()
        except (RuntimeError, NotImplementedError):
            return obj
        dev = emulated.get(ptr)
        if dev is None:
            return obj
        new = EmulatedTensor(obj.detach(), dev, Prov(None))
        if isinstance(obj, nn.Parameter):
            new = nn.Parameter(new, requires_grad=obj.requires_grad)
        elif obj.requires_grad:
            new.requires_grad_(True)
        memo[key] = new
        return new
    if depth > 8:
        return obj
    memo[key] = obj
    if isinstance(obj, dict):
        for k in list(obj.keys()):
            obj[k] = _rewrap(obj[k], emulated, memo, depth + 1)
        return obj
    if isinstance(obj, list):
        for i, v in enumerate(obj):
            obj[i] = _rewrap(v, emulated, memo, depth + 1)
        return obj
    if isinstance(obj, tuple):
        items = [_rewrap(v, emulated, memo, depth + 1) for v in obj]
        if all(a is b for a, b in zip(items, obj)):
            return obj
        new = type(obj)._make(items) if hasattr(obj, "_fields") else type(obj)(items)
        memo[key] = new
        return new
    if isinstance(obj, nn.Module):
        for mod in obj.modules():
            for name, p in list(mod._parameters.items()):
                if p is not None:
                    mod._parameters[name] = _rewrap(p, emulated, memo, depth + 1)
            for name, b in list(mod._buffers.items()):
                if b is not None:
                    mod._buffers[name] = _rewrap(b, emulated, memo, depth + 1)
        return obj
    d = getattr(obj, "__dict__", None)
    if isinstance(d, dict) and not isinstance(obj, type) and not isinstance(obj, types.ModuleType):
        for k, v in list(d.items()):
            nv = _rewrap(v, emulated, memo, depth + 1)
            if nv is not v:
                with contextlib.suppress(AttributeError, TypeError):
                    setattr(obj, k, nv)
    return obj


# --- the function mode ----------------------------------------------------------------------


class EmulationMode(TracerMode):
    """The tracer's mode plus what only a Python-level call shows: the recurrent layers'
    own device check, `.data =`, and factories given a device by `torch.set_default_device`
    or `with torch.device(...)` (those call the original factory, not the patched one)."""

    def __init__(self, harness: Harness, hooks: EmulationHooks) -> None:
        super().__init__(harness)
        self.hooks = hooks
        vf = torch._C._VariableFunctions
        for name in ("gru", "lstm", "rnn_tanh", "rnn_relu"):
            fn = getattr(vf, name, None)
            if fn is not None:
                self.handlers[fn] = self._rnn
        data = getattr(Tensor, "data", None)
        if data is not None and hasattr(data, "__set__"):
            self.handlers[data.__set__] = self._set_data
        for name in ("to", "cuda", "cpu", "type"):
            self.handlers[getattr(torch._C.TensorBase, name)] = self._base_move
        self.handlers[torch._C.TensorBase.numpy] = self._base_numpy
        self.handlers[torch._C.TensorBase.type_as] = self._type_as
        mha = getattr(torch.nn.functional, "multi_head_attention_forward", None)
        if mha is not None:
            self.handlers[mha] = self._attention
        self.factories = _factory_functions()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        __tracebackhide__ = True
        if func in self.factories and (
            (kwargs and ("device" in kwargs or "pin_memory" in kwargs))
            or (_is_default_device_constructor(func) and _default_device() is not None)
        ):
            kwargs = kwargs or {}
            dev = kwargs.get("device")
            if kwargs.get("pin_memory") or dev is None or _normalize(dev).type == ACCEL:
                name = getattr(func, "__name__", "factory")
                if args and isinstance(args[0], Tensor) and name.startswith("new_"):
                    return self.hooks.new_method(
                        name, lambda s, *a, **k: func(s, *a, **k), args[0], args[1:], kwargs
                    )
                return self.hooks.factory(name, func, args, kwargs)
        return super().__torch_function__(func, types, args, kwargs)

    def _base_move(self, func, types, args, kwargs):
        # `torch._C.TensorBase.to(x, ...)` called directly (the patched methods call the
        # original with this mode popped, so they never come here).
        kind = func.__name__
        return self.hooks.move(kind, args[0], tuple(args[1:]), kwargs)

    def _type_as(self, func, types, args, kwargs):
        # C++ `type_as` is `self.to(other.options())`, and an emulated tensor's options say
        # CPU: `pred.type_as(cpu_labels)` would stay on the accelerator (and a CPU tensor
        # `type_as` an emulated one on the CPU).  Move to the other's device as a GPU does.
        self_t, other = args[0], args[1] if len(args) > 1 else kwargs["other"]
        if type(self_t) is EmulatedTensor or type(other) is EmulatedTensor:
            out = self.hooks.move("to", self_t, (emu_device_of(other), other.dtype), {})
            return out
        return super().__torch_function__(func, types, args, kwargs)

    def _base_numpy(self, func, types, args, kwargs):
        t = args[0]
        if type(t) is EmulatedTensor:
            return t.numpy(**kwargs)
        return func(*args, **kwargs)

    def _rnn(self, func, types, args, kwargs):
        __tracebackhide__ = True
        # RNN.h check_attributes: hidden states, then parameters, against the input.
        inp = args[0]
        # (input, hx, params, has_biases, ...) or, for a packed sequence, (data,
        # batch_sizes, hx, params, ...): the parameter list comes third or fourth (an LSTM's
        # hx is a tuple too, so the list's position is what tells them apart)
        packed = len(args) > 3 and isinstance(args[3], (list, tuple))
        hx, params = (args[2], args[3]) if packed else (args[1], args[2])
        hiddens = list(hx) if isinstance(hx, (list, tuple)) else [hx]
        idev = _ds(inp)
        healed = False
        for what, group in (
            (("hidden", hiddens), ("parameter", list(params))) if _counts(inp) else ()
        ):
            bad = [t for t in group if _counts(t) and _ds(t) != idev]
            if not bad:
                continue
            d = _ds(bad[0])
            message = (
                f"Input and {what} tensors are not at the same device, "
                f"found input tensor at {idev} and {what} tensor at {d}"
            )
            operands = (
                [("input", inp, False, False)]
                + [("hx", h, False, False) for h in hiddens if isinstance(h, Tensor)]
                + [("params", bad[0], False, False)] * (what == "parameter")
            )
            common, odd = (idev, d) if not idev.startswith("cpu") else (d, idev)
            report_mismatch(
                f"aten::{func.__name__}", message, common, odd, operands, sys._getframe(1)
            )
            healed = True
            break
        if healed:
            target = next(
                (
                    emu_device_of(t)
                    for t in [inp, *hiddens, *params]
                    if isinstance(t, Tensor) and emu_device_of(t).type == ACCEL
                ),
                None,
            )
            if target is not None:

                def move(t):
                    if not isinstance(t, Tensor) or emu_device_of(t) == target:
                        return t
                    moved = _ToEmulated.apply(t, target)
                    _mark(moved)
                    return moved

                inp2 = move(inp)
                hx2 = type(hx)(move(h) for h in hx) if isinstance(hx, (list, tuple)) else move(hx)
                params2 = [move(p) for p in params]
                args = (
                    (inp2, args[1], hx2, params2, *args[4:])
                    if packed
                    else (inp2, hx2, params2, *args[3:])
                )
        out = func(*args, **kwargs)
        inherit(out, args)
        return out

    def _attention(self, func, types, args, kwargs):
        """`F.multi_head_attention_forward` with a CPU `key_padding_mask` or `attn_mask`
        and emulated query: a GPU raises (the fused attention kernels, or `baddbmm` when
        weights are returned, require one device).  Inside the function the masks are
        derived by torch's own Python code, which this mode does not see (a mode is off
        while it handles a call), so they reach the kernels untagged and would follow
        their operation: the check is made here, on the masks the caller passed."""
        __tracebackhide__ = True
        query = args[0] if args else kwargs.get("query")
        if not (_counts(query) and emu_device_of(query).type == ACCEL):
            return self.call(func, args, kwargs)
        names = ("key_padding_mask", "attn_mask")
        positions = {"key_padding_mask": 14, "attn_mask": 16}
        target = emu_device_of(query)
        qdev = _ds(query)
        masks = {}
        for name in names:
            i = positions[name]
            value = kwargs.get(name, args[i] if len(args) > i else None)
            if _counts(value) and _ds(value) != qdev:
                masks[name] = (i, value)
        if not masks:
            return self.call(func, args, kwargs)
        name, (_, mask) = next(iter(masks.items()))
        message = (
            f"Expected all tensors to be on the same device, but found at least two "
            f"devices, {qdev} and {_ds(mask)}!"
        )
        report_mismatch(
            "aten::_scaled_dot_product_efficient_attention",
            message,
            qdev,
            _ds(mask),
            [("query", query, False, False), (name, mask, False, False)],
            sys._getframe(1),
        )
        args, kwargs = list(args), dict(kwargs)
        for name, (i, value) in masks.items():
            moved = _ToEmulated.apply(value, target)
            _mark(moved)
            if name in kwargs or len(args) <= i:
                kwargs[name] = moved
            else:
                args[i] = moved
        return self.call(func, tuple(args), kwargs)

    def _set_data(self, func, types, args, kwargs):
        self_t, value = args[0], args[1]
        if type(self_t) is type(value) or (
            type(value) is not EmulatedTensor and type(self_t) is not EmulatedTensor
        ):
            return func(*args, **kwargs)
        # `param.data = x.to(device)`: a device change in place keeps the object.
        new = (
            EmulatedTensor(value._inner, value._emu_device, get_prov(value))
            if type(value) is EmulatedTensor
            else value.detach()
        )
        if type(self_t) is EmulatedTensor and type(value) is not EmulatedTensor:
            new = value.detach().clone()
        if self_t.__dict__.get("_is_param") or isinstance(self_t, nn.Parameter):
            new = nn.Parameter(new, requires_grad=self_t.requires_grad)
        elif self_t.requires_grad:
            new.requires_grad_(True)
        torch.utils.swap_tensors(self_t, new)
        return None


_CONSTRUCTOR_NAMES: Optional[frozenset] = None


def _is_default_device_constructor(fn: Any) -> bool:
    """One of the factories that `torch.set_default_device` gives a device (by name: the
    set torch keeps may hold the patched functions or the originals)."""
    global _CONSTRUCTOR_NAMES
    if _CONSTRUCTOR_NAMES is None:
        try:
            from torch.utils._device import _device_constructors

            _CONSTRUCTOR_NAMES = frozenset(
                getattr(f, "__name__", "") for f in _device_constructors()
            ) - {""}
        except Exception:
            _CONSTRUCTOR_NAMES = frozenset()
    return getattr(fn, "__name__", None) in _CONSTRUCTOR_NAMES


def _default_device() -> Optional[torch.device]:
    """The accelerator `torch.set_default_device` / `with torch.device(...)` set, if any."""
    try:
        from torch.overrides import _get_current_function_mode_stack
        from torch.utils._device import DeviceContext
    except ImportError:
        return None
    d = None
    for mode in reversed(_get_current_function_mode_stack()):
        if isinstance(mode, DeviceContext):
            d = mode.device
            break
    else:
        ctx = getattr(getattr(torch, "_GLOBAL_DEVICE_CONTEXT", None), "device_context", None)
        d = getattr(ctx, "device", None)
    return _normalize(d) if d is not None and d.type == ACCEL else None


def _factory_functions() -> set:
    from devlint.runtime.tracer import FACTORIES, NEW_METHODS

    found: set = set()
    try:
        from torch.utils._device import _device_constructors

        found.update(_device_constructors())
    except Exception:
        pass
    for name in FACTORIES:
        fn = _ORIG.get("torch." + name)
        if fn is not None:
            found.add(fn)
    for name in NEW_METHODS:
        fn = getattr(torch._C.TensorBase, name, None)
        if fn is not None:
            found.add(fn)
    return found


# --- torch.cuda, torch.accelerator, autocast, GradScaler, compile ---------------------------


def _stream_bases() -> tuple[type, type]:
    """torch 2.2-2.5: torch._dynamo checks that torch.cuda.Stream/Event derive from the
    abstract classes of `torch._streambase`.  Later versions made those deprecated aliases
    of the C types torch.Stream/torch.Event, which cannot be the base of a fake stream."""
    import inspect

    try:
        from torch import _streambase
    except ImportError:
        return object, object
    bases = []
    for name in ("_StreamBase", "_EventBase"):
        cls = getattr(_streambase, name, None)
        abstract = (
            cls is not None
            and inspect.isabstract(cls)
            and all(b.__module__ in ("torch._streambase", "abc", "builtins") for b in cls.__mro__)
        )
        bases.append(cls if abstract else object)
    return bases[0], bases[1]


_StreamBase, _EventBase = _stream_bases()


class _Stream(_StreamBase):  # type: ignore[misc,valid-type]
    def __init__(self, device=None, priority=0, **kwargs):
        self.device = _normalize(device) if device is not None else torch.device(ACCEL, EMU.current)
        self.priority = priority
        self.cuda_stream = 0

    def synchronize(self):
        return None

    def wait_stream(self, stream):
        return None

    def wait_event(self, event):
        return None

    def record_event(self, event=None):
        event = event or _Event()
        event.record(self)
        return event

    def query(self):
        return True

    def is_capturing(self):
        return False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __eq__(self, other):
        return isinstance(other, _Stream)

    def __hash__(self):
        return 0


class _Event(_EventBase):  # type: ignore[misc,valid-type]
    def __init__(self, enable_timing=False, blocking=False, interprocess=False, **kwargs):
        self._t: Optional[float] = None

    def record(self, stream=None):
        import time

        self._t = time.perf_counter()

    def synchronize(self):
        return None

    def wait(self, stream=None):
        return None

    def query(self):
        return True

    def elapsed_time(self, end: _Event) -> float:
        return ((end._t or 0.0) - (self._t or 0.0)) * 1000.0


class _DeviceCtx:
    def __init__(self, device):
        self.idx = _normalize(device).index if device is not None and device != -1 else None
        self.prev = EMU.current

    def __enter__(self):
        self.prev = EMU.current
        if self.idx is not None:
            EMU.current = self.idx
        return self

    def __exit__(self, *exc):
        EMU.current = self.prev
        return False


def _props(device=None):
    return types.SimpleNamespace(
        name="devlint emulated CUDA device (CPU)",
        major=8,
        minor=0,
        total_memory=16 * 2**30,
        multi_processor_count=1,
        is_integrated=False,
        is_multi_gpu_board=False,
        gcnArchName="",
        uuid="devlint-emulated",
        L2_cache_size=0,
        warp_size=32,
    )


def _set_device(device) -> None:
    d = _normalize(device)
    _validate(d)
    EMU.current = d.index or 0


def _autocast_init(orig):
    @functools.wraps(orig)
    def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
        if device_type == ACCEL:
            device_type = "cpu"
            if dtype is None:
                dtype = torch.float16
        return orig(self, device_type, dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)

    return __init__


def _compile(model=None, **kwargs):
    if not EMU.notes or "torch.compile" not in EMU.notes[-1]:
        EMU.notes.append("torch.compile ran the model eagerly under the emulated accelerator")
    if model is None:
        return lambda m: m
    return model


def cuda_patches(hooks: EmulationHooks) -> None:
    c = torch.cuda
    p = hooks.patch
    p(c, "is_available", lambda: True)
    p(c, "device_count", lambda: EMU.device_count)
    p(c, "current_device", lambda: EMU.current)
    p(c, "set_device", _set_device)
    p(c, "get_device_name", lambda device=None: _props().name)
    p(c, "get_device_capability", lambda device=None: (8, 0))
    p(c, "get_device_properties", _props)
    p(c, "is_initialized", lambda: True)
    p(c, "init", lambda: None)
    p(c, "_lazy_init", lambda: None)
    p(c, "is_bf16_supported", lambda including_emulation=True: True)
    p(c, "is_current_stream_capturing", lambda: False)
    for name in (
        "synchronize",
        "empty_cache",
        "ipc_collect",
        "reset_peak_memory_stats",
        "reset_max_memory_allocated",
        "reset_max_memory_cached",
        "reset_accumulated_memory_stats",
        "set_per_process_memory_fraction",
        "manual_seed",
        "manual_seed_all",
        "seed",
        "seed_all",
        "set_rng_state",
        "set_rng_state_all",
        "set_sync_debug_mode",
    ):
        p(c, name, lambda *a, **k: None)
    for name in (
        "memory_allocated",
        "max_memory_allocated",
        "memory_reserved",
        "max_memory_reserved",
        "memory_cached",
        "max_memory_cached",
        "utilization",
    ):
        p(c, name, lambda *a, **k: 0)
    p(c, "memory_summary", lambda *a, **k: "devlint emulated accelerator: no device memory\n")
    p(c, "memory_stats", lambda *a, **k: {})
    p(c, "mem_get_info", lambda *a, **k: (16 * 2**30, 16 * 2**30))
    p(c, "initial_seed", lambda: torch.initial_seed())
    p(c, "get_rng_state", lambda device="cuda": torch.get_rng_state())
    p(c, "get_rng_state_all", lambda: [torch.get_rng_state() for _ in range(EMU.device_count)])
    p(c, "Stream", _Stream)
    p(c, "Event", _Event)
    p(c, "current_stream", lambda device=None: _Stream(device))
    p(c, "default_stream", lambda device=None: _Stream(device))
    p(c, "stream", lambda stream=None: contextlib.nullcontext(stream))
    p(c, "device", _DeviceCtx)
    p(c, "device_of", lambda obj: _DeviceCtx(obj.device if isinstance(obj, Tensor) else None))
    acc = getattr(torch, "accelerator", None)
    if acc is not None:
        p(acc, "is_available", lambda: True)
        p(acc, "device_count", lambda: EMU.device_count)
        p(acc, "current_accelerator", lambda check_available=False: torch.device(ACCEL))
        p(acc, "current_device_index", lambda: EMU.current)
        p(acc, "current_device_idx", lambda: EMU.current)
        p(acc, "set_device_index", _set_device)
        p(acc, "set_device_idx", _set_device)
        p(acc, "synchronize", lambda device=None: None)
        p(acc, "current_stream", lambda device=None: _Stream(device))
        p(acc, "set_stream", lambda stream: None)
        p(acc, "device_index", _DeviceCtx)
        for name in ("empty_cache", "reset_peak_memory_stats", "reset_accumulated_memory_stats"):
            p(acc, name, lambda *a, **k: None)
        for name in (
            "memory_allocated",
            "max_memory_allocated",
            "memory_reserved",
            "max_memory_reserved",
        ):
            p(acc, name, lambda *a, **k: 0)
    cudnn = getattr(torch.backends, "cudnn", None)
    if cudnn is not None:
        p(cudnn, "is_acceptable", lambda tensor: False)
    ac = torch.amp.autocast_mode.autocast
    p(ac, "__init__", _autocast_init(ac.__init__))
    p(torch, "compile", _compile)
    p(torch.serialization, "location_tag", _location_tag(torch.serialization.location_tag))
    p(torch, "save", _save(torch.save))
    p(nn.Module, "_apply", _module_apply(nn.Module._apply))
    _comm_patches(hooks)
    _device_patches(hooks)


# --- integer device ordinals ------------------------------------------------------------------
#
# `model.to(rank)`, `torch.device(0)`, `torch.zeros(3, device=0)`: an int names a device of
# the accelerator (the current accelerator in torch 2.5+, CUDA before).  PyTorch resolves it
# in C++, where a CPU build has no accelerator ("Cannot access accelerator device when none
# is available"), so under the emulation the int is turned into `cuda:N` before C++ sees it:
# in `torch._C._nn._parse_to` (what `Tensor.to` and `nn.Module.to` parse with), in the
# `device=` of every call the mode sees, and in `torch.device` (a stand-in type, below).

_REAL_DEVICE = torch.device


def ordinal_device(value: Any) -> Any:
    """`cuda:N` for an int N (not a bool), else the value unchanged."""
    if isinstance(value, int) and not isinstance(value, bool):
        return _REAL_DEVICE(ACCEL, value)
    return value


def _parse_to_ordinals(orig):
    @functools.wraps(orig)
    def _parse_to(*args, **kwargs):
        if args:
            args = (ordinal_device(args[0]), *args[1:])
        if "device" in kwargs:
            kwargs["device"] = ordinal_device(kwargs["device"])
        return orig(*args, **kwargs)

    return _parse_to


class _DeviceType(type):
    """The metaclass of the `torch.device` stand-in: `torch.device(0)` is `cuda:0` under the
    emulation; every other spelling, `isinstance`, attributes and `repr` are the real type's.
    Real device objects pickle as `torch.device(...)` through the stand-in (registered with
    copyreg), so a checkpoint names `torch.device` and loads anywhere."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if len(args) == 1 and not kwargs:
            return ordinal_device(args[0]) if isinstance(args[0], int) else _REAL_DEVICE(args[0])
        return _REAL_DEVICE(*args, **kwargs)

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, _REAL_DEVICE)

    def __subclasscheck__(cls, sub: Any) -> bool:
        return sub is cls or (isinstance(sub, type) and issubclass(sub, _REAL_DEVICE))

    def __getattr__(cls, name: str) -> Any:
        return getattr(_REAL_DEVICE, name)

    def __repr__(cls) -> str:
        return repr(_REAL_DEVICE)


DeviceStandIn = _DeviceType(
    "device", (), {"__module__": "torch", "__qualname__": "device", "__doc__": _REAL_DEVICE.__doc__}
)


def _reduce_device(d: torch.device):
    return (DeviceStandIn, (d.type,) if d.index is None else (d.type, d.index))


def _device_patches(hooks: EmulationHooks) -> None:
    import copyreg

    hooks.patch(torch._C._nn, "_parse_to", _parse_to_ordinals(torch._C._nn._parse_to))
    hooks.patch(torch, "device", DeviceStandIn)
    # Process-wide and never undone: the reduction is the real one, through the stand-in.
    copyreg.dispatch_table.setdefault(_REAL_DEVICE, _reduce_device)
    try:
        from torch.jit import annotations as jit_annotations
    except ImportError:
        return
    orig = jit_annotations.try_ann_to_type

    @functools.wraps(orig)
    def try_ann_to_type(ann, *args, **kwargs):
        if ann is DeviceStandIn or ann is _REAL_DEVICE:
            return torch._C.DeviceObjType.get()
        return orig(ann, *args, **kwargs)

    hooks.patch(jit_annotations, "try_ann_to_type", try_ann_to_type)


# --- nn.DataParallel, torch.cuda.comm ------------------------------------------------------
#
# DataParallel replicates the module with `comm.broadcast_coalesced`, splits the inputs with
# `comm.scatter` and collects the outputs with `comm.gather`; a CPU build has none of their
# C++ kernels (`torch._C._broadcast_coalesced`, `_scatter`, `_gather`).  Under the emulation
# they copy between emulated devices.  The copies are the harness's, not the program's: they
# keep the provenance of what they copy (a replica's weight points where the module was
# built, a scattered chunk where the input was made) and record no move, so a finding is
# linked to the line that made the value, not to the DataParallel call.


def _copy_to(t: Tensor, device: torch.device) -> Tensor:
    """`t` on `device` (itself when already there), with `t`'s origin and no move."""
    if emu_device_of(t) == device:
        return t
    out = _ToEmulated.apply(t, device) if device.type == ACCEL else _ToCPU.apply(t)
    prov = get_prov(t)
    set_prov(out, Prov(prov.origin, (), prov.healed) if prov is not None else Prov(None))
    return out


def _broadcast_coalesced(tensors, devices, buffer_size=10485760):
    """One list of copies per device; the first device's are the tensors themselves, which
    must all be there (as the CUDA kernel requires)."""
    devices = [_normalize(d) for d in devices]
    for d in devices:
        _validate(d)
    for t in tensors:
        if emu_device_of(t) != devices[0]:
            raise RuntimeError(f"All tensors must be on devices[0]: {devices[0].index}")
    return [
        list(tensors) if i == 0 else [_copy_to(t, d) for t in tensors]
        for i, d in enumerate(devices)
    ]


def _broadcast(tensor, devices=None, *, out=None):
    if out is not None:
        for o in out:
            o.copy_(tensor)
        return tuple(out)
    targets = [_normalize(d) for d in devices or ()]
    for d in targets:
        _validate(d)
    return tuple(_copy_to(tensor, d) for d in targets)


def _scatter(tensor, devices=None, chunk_sizes=None, dim=0, streams=None, *, out=None):
    """`nn.DataParallel`'s input split: one chunk on each emulated device."""
    if out is not None:
        devices = [emu_device_of(o) for o in out]
        chunk_sizes = [o.size(dim) for o in out]
    targets = [_normalize(d) for d in devices or ()]
    for d in targets:
        _validate(d)
    if chunk_sizes is None:
        chunks = tensor.chunk(len(targets), dim)
    else:
        chunks = tensor.split(list(chunk_sizes), dim)
    moved = tuple(_copy_to(c.contiguous(), d) for c, d in zip(chunks, targets))
    if out is not None:
        for o, m in zip(out, moved):
            o.copy_(m)
        return tuple(out)
    return moved


def _gather(tensors, dim=0, destination=None, *, out=None):
    """`nn.DataParallel`'s output collection: the replicas' outputs concatenated on the
    output device (`-1` or `"cpu"`: the CPU)."""
    if out is not None:
        dest = emu_device_of(out)
    elif destination is None:
        dest = torch.device(ACCEL, EMU.current)
    elif destination == -1 or destination == "cpu":
        dest = CPU
    else:
        dest = _normalize(destination)
    _validate(dest)
    result = torch.cat([_copy_to(t, dest) for t in tensors], dim)
    if out is not None:
        out.copy_(result)
        return out
    return result


def _scatter_forward(ctx, target_gpus, chunk_sizes, dim, input):
    from torch._utils import _get_device_index

    target_gpus = [_get_device_index(x, True) for x in target_gpus]
    ctx.dim = dim
    ctx.input_device = input.get_device() if input.device.type != "cpu" else -1
    return _scatter(input, target_gpus, chunk_sizes, dim)


def _comm_patches(hooks: EmulationHooks) -> None:
    """`torch.nn.parallel.comm` (and its alias `torch.cuda.comm`) on the emulated devices."""
    import importlib

    from torch.nn.parallel import _functions

    for name in ("torch.nn.parallel.comm", "torch.cuda.comm"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        hooks.patch(module, "broadcast_coalesced", _broadcast_coalesced)
        hooks.patch(module, "broadcast", _broadcast)
        hooks.patch(module, "scatter", _scatter)
        hooks.patch(module, "gather", _gather)
    hooks.patch(_functions.Scatter, "forward", staticmethod(_scatter_forward))
    nccl = sys.modules.get("torch.cuda.nccl")
    if nccl is not None:
        # No NCCL here, and none needed: `comm.reduce_add` takes its plain path (a GPU
        # build without NCCL does too) without warning that PyTorch lacks NCCL.
        hooks.patch(nccl, "is_available", lambda tensors: False)


def _location_tag(orig):
    @functools.wraps(orig)
    def location_tag(storage):
        try:
            ptr = storage.data_ptr()
        except Exception:
            return orig(storage)
        tag = EMU.saving.get(ptr)
        return tag if tag is not None else orig(storage)

    return location_tag


def _save(orig):
    @functools.wraps(orig)
    def save(obj, f, *args, **kwargs):
        depth = getattr(_STATE, "saving", 0)
        _STATE.saving = depth + 1
        try:
            return orig(obj, f, *args, **kwargs)
        finally:
            _STATE.saving = depth
            if depth == 0:
                EMU.saving.clear()

    return save


def _module_apply(orig):
    @functools.wraps(orig)
    def _apply(self, fn, recurse=True):
        # Swap parameters in place, as a real `.to()` keeps the Parameter objects.
        get = torch.__future__.get_swap_module_params_on_conversion
        set_ = torch.__future__.set_swap_module_params_on_conversion
        prev = get()
        set_(True)
        try:
            out = orig(self, fn, recurse)
        except RuntimeError as exc:
            if "swap" not in str(exc):
                raise
            set_(False)
            out = orig(self, fn, recurse)
        finally:
            set_(prev)
        site = innermost_user_site(sys._getframe())
        for t in (*self.parameters(), *self.buffers()):
            if get_prov(t) is None:
                set_prov(t, Prov(site))
        return out

    return _apply


def install(harness: Harness, device_count: int = 1) -> EmulationHooks:
    """Install the emulated accelerator in this process (idempotent per harness)."""
    global HOOKS
    if harness.keep_going:
        track_modules()
    EMU.harness = harness
    EMU.device_count = max(1, device_count)
    EMU.current = 0
    hooks = EmulationHooks(harness)
    hooks.install()
    cuda_patches(hooks)
    HOOKS = hooks
    return hooks


HOOKS: Optional[EmulationHooks] = None
