"""Abstract values: what kind of object a name holds and where it lives.

A device is a set of *atoms*, one per way the value may have been placed:
`cpu`, a concrete accelerator (`cuda`, `cuda:1`, `mps`, `xpu`), a symbolic device
(`sym:<source>`: the value of `device`, `args.device`, a parameter's device...),
`any` (a parameter-free module, which works wherever its input is) or `?` (unknown).
A set with more than one atom means "one of these, depending on the path taken".

Two symbolic devices from the same source are equal; from different sources they
*may* be equal, so the engine never calls them a mismatch.  A mismatch needs one
side that is certainly the CPU and another that is certainly not (or, on some
paths only, for the "moved on one branch" case).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum
from typing import Optional, Sequence

import libcst as cst

Device = frozenset  # frozenset[str] of atoms

CPU = "cpu"
ANY = "any"
UNK = "?"

DEV_CPU: Device = frozenset({CPU})
DEV_ANY: Device = frozenset({ANY})
DEV_UNKNOWN: Device = frozenset({UNK})
ACCELERATOR_TYPES = ("cuda", "mps", "xpu", "hpu", "npu", "xla")


def sym(key: str) -> Device:
    return frozenset({f"sym:{key}"})


# where a library that places its models itself puts one built without `device=`: an
# accelerator when there is one (sentence-transformers, OpenAI's `clip.load`,
# `whisper.load_model`, Ultralytics, YOLOv5 from torch.hub: `calls`)
_PLACED_BY = "sym:placed-by:"


def placed_by(library: str) -> Device:
    return sym(f"placed-by:{library}")


_PARAM = "sym:param:"


def sole_param(dev: Device) -> Optional[str]:
    """The parameter a device is exactly that of (`sym:param:x` alone), or None."""
    if len(dev) != 1:
        return None
    (atom,) = dev
    return atom[len(_PARAM) :] if atom.startswith(_PARAM) else None


def param_names(dev: Device) -> set[str]:
    """The parameters whose devices `dev` follows (`sym:param:x`, `sym:param:y`)."""
    return {atom[len(_PARAM) :] for atom in dev if atom.startswith(_PARAM)}


def is_cpu(dev: Device) -> bool:
    return dev == DEV_CPU


def is_placed(dev: Device) -> bool:
    """Certainly off the CPU on some machine: accelerators and symbolic devices only."""
    return bool(dev) and CPU not in dev and UNK not in dev and ANY not in dev


def is_weak(dev: Device) -> bool:
    """Placed only by being a parameter or a module's own state: device-polymorphic code,
    which is on an accelerator only if its callers put it there."""
    return all(a == "sym:self" or a.startswith("sym:param:") for a in dev)


def partly_cpu(dev: Device) -> bool:
    """CPU on some paths and placed on others (moved on one branch only)."""
    return CPU in dev and len(dev) > 1 and UNK not in dev and ANY not in dev


def may_be_placed(dev: Device) -> bool:
    """On an accelerator on some path, by a move (not only by being a parameter)."""
    if not (is_placed(dev) or partly_cpu(dev)):
        return False
    return not is_weak(frozenset(a for a in dev if a != CPU))


def is_known(dev: Device) -> bool:
    return bool(dev) and UNK not in dev


def join_devices(a: Device, b: Device) -> Device:
    if UNK in a or UNK in b:
        return DEV_UNKNOWN
    if a == b:
        return a
    if ANY in a:
        return b
    if ANY in b:
        return a
    out = a | b
    return out if len(out) <= 4 else DEV_UNKNOWN


def describe_device(dev: Device) -> str:
    """Human wording of a device for messages."""
    if is_cpu(dev):
        return "the CPU"
    return " or ".join(sorted(_describe_atom(a) for a in dev))


def _describe_atom(atom: str) -> str:
    if atom == CPU:
        return "the CPU"
    if atom == "sym:auto":
        return "the accelerator (when one is available, or chosen)"
    if atom == "sym:self":
        return "the module's device"
    if atom.startswith(_PLACED_BY):
        return f"the GPU {atom[len(_PLACED_BY):]} puts its models on (when there is one)"
    if atom.startswith("sym:param:"):
        return f"the device of `{atom[10:]}`"
    if atom.startswith("sym:"):
        return f"`{atom[4:]}`"
    return f"`{atom}`"


class _NoConst:
    """The marker of a value that is no known Python constant."""

    def __repr__(self) -> str:
        return "NO_CONST"


NO_CONST = _NoConst()
# the Python constants the engine folds: what decides the branches of a helper called with
# literal arguments (`make_data(cuda=False)`, a `device=None` default)
Constant = Optional[object]


class Kind(Enum):
    MODULE = "module"
    TENSOR = "tensor"
    LOADER = "loader"  # an iterable of batches
    BATCH = "batch"  # a container (tuple/list/dict) of tensors, or a batch of unknown shape
    DEVICE = "device"
    OPTIMIZER = "optimizer"
    NDARRAY = "ndarray"
    OTHER = "other"  # a known non-tensor (int, str, None...)
    UNKNOWN = "unknown"


class Origin(Enum):
    NONE = "none"
    FACTORY = "factory"  # created by a factory without device=
    LOADER = "loader"  # yielded by a data loader (and not moved since)
    PLAIN_ATTR = "plain_attr"  # a plain tensor attribute set in __init__
    DISCARDED = "discarded"  # its `.to()` result was thrown away
    PARAM = "param"  # a function parameter
    MODEL_OUTPUT = "model_output"


@dataclass(frozen=True)
class Value:
    kind: Kind = Kind.UNKNOWN
    device: Device = DEV_UNKNOWN
    origin: Origin = Origin.NONE
    # Where the value got its (wrong) device: factory call, loop target, __init__ assignment,
    # discarded statement.  Used for messages and for reporting one defect once.
    site: Optional[cst.CSTNode] = None
    # 0-dim tensor?  True, False, or None when the engine cannot tell.
    scalar: Optional[bool] = False
    # Known structure of containers: positional elements, dict entries, or a homogeneous
    # element (what iterating a loader or a list yields).
    elems: Optional[tuple[Value, ...]] = None
    entries: Optional[tuple[tuple[str, Value], ...]] = None
    elem: Optional[Value] = None
    # Identity of mutable objects moved in place (modules, in-place `.to()` containers).
    oid: int = 0
    type_name: str = ""  # class name for modules and project classes
    # For modules: moves its inputs itself (DataParallel, DDP with device_ids, prepared).
    moves_inputs: bool = False
    # The value came from a guarded move (`if cuda: x = x.cuda()`): path-correlated.
    requires_grad: bool = False
    # The Python constant the value certainly is (`True`, `False`, `None`, an int, a str),
    # or `NO_CONST`: a helper evaluated with its caller's arguments takes only the branch
    # that a known test selects (`if cuda:`, `if device is not None:`, `device or "cpu"`).
    const: object = NO_CONST
    # made in another module of the project: how (for messages, `engine.summary`)
    via: str = ""
    # stands in for a parameter its caller left out (`if mask is None: mask = ...`):
    # (id of the function, parameter name); a finding on it needs a call that omits it
    fills: tuple = ()
    # other factories whose tensors this value may be, each a defect of its own: the
    # initial state of a recurrent layer built on several paths (`_recurrent_state`)
    also: tuple = ()
    # `None` on some path (`self.log_std = None`, then a tensor when a flag is set): an
    # operation only ever meets the tensor (`None` would raise first), but whether it is
    # `None` is not known
    maybe_none: bool = False

    def with_device(self, device: Device, **changes: object) -> Value:
        return replace(self, device=device, **changes)


UNKNOWN = Value()
_ORIGIN_PRIORITY = [
    Origin.DISCARDED,
    Origin.PLAIN_ATTR,
    Origin.FACTORY,
    Origin.LOADER,
    Origin.MODEL_OUTPUT,
    Origin.PARAM,
    Origin.NONE,
]
OTHER = Value(Kind.OTHER, DEV_ANY)
# a Python int or float (a literal, or a parameter annotated or defaulting to one):
# `torch.tensor(n)` of it is a 0-dim tensor, which may meet tensors on any device
NUMBER = Value(Kind.OTHER, DEV_ANY, type_name="<number>")


# `Value.via` of a module moved before a new CPU layer was set on it (`model.head =
# nn.Linear(...)` after `model.to(device)`): the prefix, then the assignment's target
GRAFT = "graft:"


def constant(value: object) -> Value:
    """The value of a Python literal (`True`, `None`, `3`, `"sum"`)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return Value(Kind.OTHER, DEV_ANY, const=value)
    return Value(Kind.OTHER, DEV_ANY, type_name=NUMBER.type_name, const=value)


def truth(value: Value) -> Optional[bool]:
    """What `bool(value)` certainly is, or None: a known constant, or a concrete
    `torch.device` (always true).  Tensors and modules have no known truth."""
    if value.const is not NO_CONST:
        return bool(value.const)
    if value.kind is Kind.DEVICE and is_concrete(value.device):
        return True
    return None


def is_default_fill(value: Value) -> bool:
    """A CPU tensor made by a factory with no `device=`, standing in for an argument
    that was not given (`if mask is None: mask = torch.ones(n)`, `batch.get("w",
    torch.ones(n))`).  On the default path it is the value, whatever callers pass
    otherwise: the path every caller that omits the argument takes."""
    return (
        value.kind is Kind.TENSOR
        and is_cpu(value.device)
        and value.origin is Origin.FACTORY
        and value.site is not None
    )


def is_none(value: Value) -> Optional[bool]:
    """Whether the value certainly is (True) or certainly is not (False) `None`; None when
    the engine cannot tell.  Only a value made here from something concrete (a device
    literal, a tensor on a named device) is certainly not `None`: a parameter's symbolic
    value may be `None` at run time."""
    if value.const is not NO_CONST:
        return value.const is None
    if value.maybe_none:
        return None
    if value.kind in (Kind.DEVICE, Kind.TENSOR, Kind.MODULE) and is_concrete(value.device):
        return False
    return None


def is_concrete(dev: Device) -> bool:
    """Every atom names a real device (`cpu`, `cuda`, `cuda:1`...): nothing symbolic."""
    return bool(dev) and all(a == CPU or not (a.startswith("sym:") or a in (ANY, UNK)) for a in dev)


def tensor(device: Device, **kw: object) -> Value:
    return Value(Kind.TENSOR, device, **kw)


# the type name of an object of unknown type moved by `.to()`/`.cpu()`/`.cuda()`
MOVED = "<moved>"


# the type name of what an unresolved call returns when it was told to use an accelerator
# (`make_data(..., use_gpu=True)`, `load_split(root, device)`): nothing is known of it,
# except that a data loader over it may yield tensors already on that accelerator
DEVICE_TOLD = "<device told>"

# an attribute of a module other than a known layer's weight or bias (`self.crf.transitions`):
# a submodule, a parameter or buffer, or plain state; read as a tensor (`.detach()`, `.data`)
# it is one of the module's parameters or buffers, on the module's device
MODULE_STATE = "<module state>"


def module_state_tensor(value: Value) -> Value:
    """A module's attribute read as a tensor (`self.crf.transitions.detach()`)."""
    return tensor(value.device, scalar=None, requires_grad=True)


def join_values(a: Value, b: Value) -> Value:
    """The value a name holds after two paths meet."""
    if a == b:
        return a
    if a.kind is not b.kind:
        optional = _optional(a, b)
        if optional is not None:
            return optional
        moved = a if a.type_name == MOVED else b if b.type_name == MOVED else None
        if moved is not None and (a if moved is b else b).kind is Kind.TENSOR:
            # `.cpu()` of an object of unknown type on one path, a tensor on the other
            # (`output = model(x).cpu()` / `output = torch.from_numpy(y)`): some object
            # moved, where the two devices say
            return Value(Kind.UNKNOWN, join_devices(a.device, b.device), type_name=MOVED)
        if a.kind is Kind.UNKNOWN or b.kind is Kind.UNKNOWN:
            return UNKNOWN
        state = _recurrent_state(a, b)
        if state is not None:
            return state
        # tensor vs. batch of unknown shape: keep the device, lose the kind
        return Value(Kind.UNKNOWN, join_devices(a.device, b.device))
    dev = join_devices(a.device, b.device)
    origin = a.origin if a.origin is b.origin else Origin.NONE
    site = a.site if a.site is b.site else (a.site if CPU in a.device else b.site)
    if a.origin is not b.origin:
        # keep the reason the CPU side is on the CPU, for messages and for deciding which
        # rule owns the defect (a discarded move on one path silences the rest)
        if CPU in a.device and CPU not in b.device:
            origin, site = a.origin, a.site
        elif CPU in b.device and CPU not in a.device:
            origin, site = b.origin, b.site
        elif CPU in a.device and CPU in b.device:
            first = a if _ORIGIN_PRIORITY.index(a.origin) <= _ORIGIN_PRIORITY.index(b.origin) else b
            origin, site = first.origin, first.site
    elems = None
    if a.elems is not None and b.elems is not None and len(a.elems) == len(b.elems):
        elems = tuple(join_values(x, y) for x, y in zip(a.elems, b.elems))
    entries = None
    if a.entries is not None and b.entries is not None:
        bd = dict(b.entries)
        entries = tuple((k, join_values(v, bd[k])) for k, v in a.entries if k in bd)
    elem = None
    if a.elem is not None and b.elem is not None:
        elem = join_values(a.elem, b.elem)
    elif a.elems == () and b.elem is not None:
        elem = b.elem  # an empty list, and the same list grown (`append` in a loop)
    elif b.elems == () and a.elem is not None:
        elem = a.elem
    return Value(
        kind=a.kind,
        device=dev,
        origin=origin,
        site=site,
        scalar=a.scalar if a.scalar == b.scalar else None,
        elems=elems,
        entries=entries,
        elem=elem,
        oid=a.oid if a.oid == b.oid else 0,
        type_name=a.type_name if a.type_name == b.type_name else "",
        moves_inputs=a.moves_inputs and b.moves_inputs,
        requires_grad=a.requires_grad or b.requires_grad,
        via=a.via if a.via == b.via else "",
        fills=a.fills if a.fills == b.fills else (),
        maybe_none=a.maybe_none or b.maybe_none,
    )


def join_all(values: Sequence[Value]) -> Value:
    """The value after all of `values`' paths meet, joined in order (a function's returns,
    a tuple's elements); `values` is not empty."""
    out = values[0]
    for v in values[1:]:
        out = join_values(out, v)
    return out


def _optional(a: Value, b: Value) -> Optional[Value]:
    """`None` on one path, a tensor or module on the other: the tensor or module, which
    is all a device operation can meet, marked as perhaps `None`."""
    for none, other in ((a, b), (b, a)):
        if none.kind is Kind.OTHER and none.const is None and other.kind in (Kind.TENSOR, Kind.MODULE):
            return replace(other, maybe_none=True)
    return None


def _recurrent_state(a: Value, b: Value) -> Optional[Value]:
    """A tensor on one path and a tuple of tensors on the other: the initial state of a
    recurrent layer (`(h0, c0)` for an LSTM, `h0` for a GRU).  Where it lives is what
    matters to the layer it is handed to, so it is one tensor on the joined device, with
    the first CPU factory as its site and the other CPU factories in `also` (each a
    defect, and a fix, of its own)."""
    pair = (a, b) if a.kind is Kind.TENSOR else (b, a)
    one, many = pair
    if one.kind is not Kind.TENSOR or many.kind is not Kind.BATCH or not many.elems:
        return None
    if any(e.kind is not Kind.TENSOR or e.scalar is not False for e in many.elems):
        return None
    if one.scalar is not False:
        return None
    collapsed = join_all(many.elems)
    # the first path's site first, as every join does
    joined = join_values(collapsed, one) if many is a else join_values(one, collapsed)
    parts = (*many.elems, one) if many is a else (one, *many.elems)
    sites = [
        p.site
        for p in parts
        if p.origin is Origin.FACTORY and is_cpu(p.device) and p.site is not None
    ]
    unique = [s for i, s in enumerate(sites) if all(s is not t for t in sites[:i])]
    if joined.origin is Origin.FACTORY and joined.site is not None and len(unique) > 1:
        return replace(joined, also=tuple(s for s in unique if s is not joined.site))
    return joined


def container_device(values: list[Value]) -> Device:
    tensors = [v for v in values if v.kind in (Kind.TENSOR, Kind.BATCH)]
    if not tensors:
        return DEV_ANY
    dev = tensors[0].device
    for v in tensors[1:]:
        dev = join_devices(dev, v.device)
    return dev


def common_origin(values: list[Value]) -> Origin:
    origins = {v.origin for v in values if v.kind is Kind.TENSOR}
    return origins.pop() if len(origins) == 1 else Origin.NONE


def move_container(value: Value, target: Device) -> Value:
    elems = tuple(move_value(e, target) for e in value.elems) if value.elems is not None else None
    entries = (
        tuple((k, move_value(v, target)) for k, v in value.entries)
        if value.entries is not None
        else None
    )
    elem = move_value(value.elem, target) if value.elem is not None else None
    if elems is None and entries is None and elem is None:
        elem = tensor(target, scalar=None)
    return Value(Kind.BATCH, target, elems=elems, entries=entries, elem=elem)


def move_value(value: Value, target: Device) -> Value:
    if value.kind is Kind.TENSOR:
        return tensor(target, scalar=value.scalar)
    if value.kind is Kind.BATCH:
        return move_container(value, target)
    return value
