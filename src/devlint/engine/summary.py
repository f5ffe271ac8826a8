"""What one module tells the modules that import it: its summary, and how it is applied.

A *summary* is plain JSON (it is cached by content hash and travels between processes):

- `classes`: each class with its bases (qualified names, resolved across modules by
  `devlint.project`) and what an importer needs to build one: whether it is a
  `torch.nn.Module`, holds no state, defines its own `to`, places its state itself in
  `__init__`, moves its inputs in `forward`, or belongs to the CPU data pipeline;
- `functions`: module-level functions whose result is known without their arguments: a
  module built on the CPU (`def build_model(): return Net()`), a module or a device on a
  named device;
- `constants`: module-level names bound to a known device (`DEVICE = torch.device("cuda")`);
- `aliases`, `stars`, `all`: what the module imports (so re-exports in `__init__.py`
  resolve) and what `from m import *` takes from it.

The summary is computed from the module alone (its own imports are names, not facts), so
every module's summary is the same whatever order or process computes it.  An importer
receives the *facts* its analysis asked for (`EngineOptions.project`): qualified name ->
resolved fact, as sorted `(name, json)` pairs, hashable and part of its cache key.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, Iterable, Optional

import libcst as cst

from devlint.engine import names as N
from devlint.engine.syntax import has_param
from devlint.engine.values import (
    DEV_ANY,
    DEV_CPU,
    UNKNOWN,
    Device,
    Kind,
    Origin,
    Value,
    is_known,
    join_all,
    sole_param,
    tensor,
)
from devlint.engine.walk import walk
from devlint.roles import LIBRARY, PROGRAM, SCRIPT

if TYPE_CHECKING:  # pragma: no cover
    from devlint.engine.flow import DeviceFlowVisitor
    from devlint.engine.names import ImportMap
    from devlint.engine.scope import ClassInfo

SUMMARY_VERSION = 1
# the key prefix of the facts that say which importers place a function's parameters
CALLERS = "@callers:"
# the key of the fact that names a script module's helpers nothing calls
UNCALLED = "@uncalled"
# calls in `__init__` that move the module itself: where it lives depends on the caller
_SELF_MOVES = frozenset({"to", "cuda", "xpu", "mps", "npu", "to_empty"})


def encode_device(dev: Device) -> Optional[list[str]]:
    """A device that means the same in another module: concrete atoms, the module-free
    `any`, and symbolic devices named after module-level names (`sym:DEVICE`: placed,
    never equal to the CPU).  A parameter's device or the module's own (`sym:param:x`,
    `sym:self`) depends on the call: None."""
    if not is_known(dev):
        return None
    for atom in dev:
        if atom.startswith("sym:param:") or atom == "sym:self":
            return None
    return sorted(dev)


def _value_fact(value: Value, visitor: DeviceFlowVisitor) -> Optional[dict[str, Any]]:
    """A function result or constant an importer can use: modules and devices, and a
    tensor (not 0-dim) that a factory without `device=` made on the CPU."""
    device = encode_device(value.device)
    if device is None or len(device) != 1:
        return None  # unknown, or on a device that depends on the path taken
    if value.kind is Kind.MODULE:
        return {"kind": "module", "device": device, "moves": value.moves_inputs}
    if value.kind is Kind.DEVICE:
        return {"kind": "device", "device": device}
    if (
        value.kind is Kind.TENSOR
        and device == ["cpu"]
        and value.origin is Origin.FACTORY
        and value.scalar is False
        and value.site is not None
    ):
        return {"kind": "tensor", "device": device, "factory": visitor.text(value.site)}
    return None


def _method_follows(info: ClassInfo, visitor: DeviceFlowVisitor) -> dict[str, Any]:
    """The methods of a class that return a tensor on the device of one of their
    parameters (`_logits(self, theta, x)`): a subclass in another module calls them."""
    out: dict[str, Any] = {}
    for name, method in info.methods.items():
        if name.startswith("__"):
            continue
        returns = visitor.method_returns.get((info.name, name))
        fact = None
        if returns and _plain_function(method):
            fact = _follows_fact(join_all(returns), method, method=True)
        # `{}`: a method of its own that overrides whatever a base's says
        out[name] = fact or {}
    return out if any(out.values()) or info.bases else {}


def _follows_fact(
    value: Value, func: cst.FunctionDef, method: bool = False
) -> Optional[dict[str, Any]]:
    """A tensor on the device of one of the function's parameters, on every path
    (`def shift(x): return x.roll(1, -1)`): an importer finds it where that argument is."""
    name = sole_param(value.device) if value.kind is Kind.TENSOR else None
    if name is None or not has_param(func, name):
        return None
    return {"kind": "tensor", "follows": name, "params": _param_names(func, method)}


# decorators that leave what a function returns as it is
_TRANSPARENT_DECORATORS = ("no_grad", "inference_mode", "cache", "lru_cache", "jit", "wraps")


def _plain_function(func: cst.FunctionDef) -> bool:
    """A function whose call returns what its `return` statements do: not a generator,
    not a coroutine, not wrapped by a decorator that may change its result."""
    if func.asynchronous is not None:
        return False
    for d in func.decorators:
        code = cst.Module([]).code_for_node(d.decorator)
        if not any(word in code for word in _TRANSPARENT_DECORATORS):
            return False
    return not any(type(n) in (cst.Yield,) for n in walk(func.body))


def _moves_itself(init: cst.FunctionDef) -> bool:
    """`self.to(...)` / `self.cuda()` in a constructor: the module's place is the
    caller's business (unknown to an importer)."""
    for node in walk(init.body):
        if (
            type(node) is cst.Attribute
            and type(node.value) is cst.Name
            and node.value.value == "self"
            and node.attr.value in _SELF_MOVES
        ):
            return True
    return False


# torch.nn classes that hold parameters or buffers (not activations, pooling, dropout...)
_STATEFUL_LAYER = re.compile(
    r"Linear|Conv|BatchNorm|LayerNorm|GroupNorm|InstanceNorm|RMSNorm|Embedding|LSTM|GRU|"
    r"RNN|MultiheadAttention|Transformer|Bilinear|PReLU|LocalResponseNorm"
)
_REGISTERS = frozenset({"register_buffer", "register_parameter", "Parameter"})


def class_state(info: ClassInfo, imports: ImportMap) -> dict[str, Any]:
    """What a module class holds, read from all its methods, for an importer building
    one: `layers` (it makes torch layers with parameters, or registers parameters or
    buffers: it has a device), `wraps` (its constructor keeps an argument, maybe a
    module, on `self`: its device is its caller's), `adapts` (a method moves something
    to its input's device: it works wherever its input is), `builds` (other classes it
    constructs, resolved across modules: one of them may hold the state)."""
    layers = False
    adapts = False
    builds: set[str] = set()
    for method in info.methods.values():
        params = set(_param_names(method, True))
        for node in walk(method.body):
            if type(node) is not cst.Call:
                continue
            if not adapts and _follows_a_parameter(node, params):
                adapts = True
            q = imports.qualify(node.func) or ""
            last = q.rsplit(".", 1)[-1]
            if last in _REGISTERS or (q.startswith("torch.nn.") and _STATEFUL_LAYER.search(last)):
                layers = True
            elif last[:1].isupper() and not q.startswith("torch."):
                builds.add(q)
    init = info.methods.get("__init__")
    wraps = init is not None and stores_arguments(init)
    return {"layers": layers, "wraps": wraps, "adapts": adapts, "builds": sorted(builds)}


def _follows_a_parameter(call: cst.Call, params: set[str]) -> bool:
    """`k.to(x.device)`, `k.to(device=x.device, dtype=x.dtype)`, `k.type_as(x)` with `x`
    a parameter of the method: the module moves its state to its input's device."""
    func = call.func
    if type(func) is not cst.Attribute or func.attr.value not in ("to", "type_as"):
        return False
    for arg in call.args:
        value = arg.value
        if func.attr.value == "type_as" and type(value) is cst.Name and value.value in params:
            return True
        if (
            type(value) is cst.Attribute
            and value.attr.value == "device"
            and type(value.value) is cst.Name
            and value.value.value in params
        ):
            return True
    return False


def stores_arguments(init: cst.FunctionDef) -> bool:
    """A constructor that keeps one of its arguments on `self` (`self.body = body`):
    an argument that is a module becomes part of the object, and moves with it."""
    return bool(stored_parameters(init))


def stored_parameters(init: cst.FunctionDef) -> set[str]:
    """The constructor's parameters it keeps on `self`, themselves or in a container
    (`self.gp = gp`, `self.parts = nn.ModuleList([a, b])`)."""
    params = set(_param_names(init, True)) | {p.name.value for p in init.params.kwonly_params}
    held: set[str] = set()
    for node in walk(init.body):
        if type(node) is cst.Assign and any(
            type(t.target) is cst.Attribute
            and type(t.target.value) is cst.Name
            and t.target.value.value == "self"
            for t in node.targets
        ):
            held.update(held_arguments(node.value, params))
    return held


_CONTAINERS = frozenset({"ModuleList", "ModuleDict", "Sequential", "list", "tuple", "dict"})


def held_arguments(value: cst.BaseExpression, params: set[str]) -> set[str]:
    """`model`, `nn.ModuleList(members)`, `[encoder, decoder]`, `backbone or nn.Conv2d(...)`:
    the arguments themselves (or in a container, or one of two alternatives), not
    something computed from one (`nn.Linear(8, width)`, `Encoder(config)`)."""
    if type(value) is cst.Name:
        return {value.value} if value.value in params else set()
    found: set[str] = set()
    if type(value) is cst.BooleanOperation:
        return held_arguments(value.left, params) | held_arguments(value.right, params)
    if type(value) is cst.IfExp:
        return held_arguments(value.body, params) | held_arguments(value.orelse, params)
    if type(value) in (cst.List, cst.Tuple):
        for el in value.elements:
            found |= held_arguments(el.value, params)
    elif type(value) is cst.Call:
        name = N.dotted(value.func) or ""
        if name.rsplit(".", 1)[-1] in _CONTAINERS:
            for a in value.args:
                found |= held_arguments(a.value, params)
    return found


_ASSEMBLY = frozenset({"append", "extend", "insert", "add_module", "register_module", "update"})


def _assembles(func: cst.FunctionDef) -> bool:
    """A function that moves something or fills a container module (`model.append(m)`,
    `add_module`, `setattr`): a module it returns may hold moved parts the analysis
    did not follow, so "a module on the CPU" is not a fact to give importers."""
    for node in walk(func.body):
        if type(node) is not cst.Call:
            continue
        f = node.func
        if type(f) is cst.Attribute and f.attr.value in (_ASSEMBLY | _SELF_MOVES):
            return True
        if type(f) is cst.Name and f.value == "setattr":
            return True
    return False


def _param_names(func: cst.FunctionDef, method: bool) -> list[str]:
    names = [p.name.value for p in (*func.params.posonly_params, *func.params.params)]
    return names[1:] if method else names


def _moved_params(func: cst.FunctionDef, method: bool = False) -> list[str]:
    """Parameters whose object the function moves in place (`model.to(device)`, also
    each element of one it iterates: `for m in models: m.cuda()`): after the call, an
    importer's module passed there is no longer where it was."""
    params = set(_param_names(func, method))
    params.update(p.name.value for p in func.params.kwonly_params)
    if not params:
        return []
    holders: dict[str, str] = {}  # loop variable -> the parameter it iterates
    receivers: list[str] = []  # names whose `.to()`/`.cuda()`... the body calls
    for node in walk(func.body):
        t = type(node)
        if (
            t is cst.Call
            and type(node.func) is cst.Attribute
            and type(node.func.value) is cst.Name
            and node.func.attr.value in _SELF_MOVES
        ):
            receivers.append(node.func.value.value)
        elif (
            t is cst.For
            and type(node.target) is cst.Name
            and type(node.iter) is cst.Name
            and node.iter.value in params
        ):
            holders[node.target.value] = node.iter.value
    moved = {n for n in receivers if n in params}
    moved.update(holders[n] for n in receivers if n not in params and n in holders)
    return sorted(moved)


def _literal_names(node: cst.BaseExpression) -> Optional[list[str]]:
    """`__all__ = ["a", "b"]` (a list or tuple of plain strings)."""
    if not isinstance(node, (cst.List, cst.Tuple)):
        return None
    out = []
    for el in node.elements:
        if not isinstance(el.value, cst.SimpleString):
            return None
        text = el.value.value
        if text[:1] not in "'\"" or len(text) < 2:
            return None
        out.append(text[1:-1])
    return out


def summarise(visitor: DeviceFlowVisitor) -> dict[str, Any]:
    """The summary of the module a visitor has analysed (see the module docstring)."""
    classes: dict[str, dict[str, Any]] = {}
    for name, info in visitor.classes.items():
        init = info.methods.get("__init__")
        moved = _moved_params(init, method=True) if init is not None else []
        classes[name] = {
            "bases": [b for b in info.bases if b],
            "moves_args": moved,
            "params": _param_names(init, True) if moved and init is not None else [],
            "module": info.is_module,
            "stateless": info.stateless,
            "to": info.defines_to or (init is not None and _moves_itself(init)),
            "places": info.places_state,
            "moves": info.moves_inputs,
            "cpu_side": info.cpu_side,
            **(class_state(info, visitor.imports) if info.is_module or info.bases else {}),
        }
        returns = _method_follows(info, visitor)
        if returns:
            classes[name]["returns"] = returns
    functions: dict[str, dict[str, Any]] = {}
    for name, func in visitor.functions.items():
        entry: dict[str, Any] = {}
        returns = visitor.function_returns.get(name)
        if returns and not name.startswith("__") and _plain_function(func):
            result = join_all(returns)
            fact = _value_fact(result, visitor) or _follows_fact(result, func) or {}
            if fact.get("kind") == "module" and fact["device"] == ["cpu"] and _assembles(func):
                fact = {}  # what it returns may hold modules it moved (`ensemble.append(m)`)
            entry.update(fact)
        moved = _moved_params(func)
        if moved:
            entry["moves_args"] = moved
            entry["params"] = _param_names(func, False)
        helper = visitor.move_helper_of(func)
        if helper is not None and not name.startswith("__"):
            entry["moves_to"] = list(helper)
            entry["params"] = _param_names(func, False)
        if entry:
            functions[name] = entry
    constants: dict[str, dict[str, Any]] = {}
    for name, value in visitor.module_env.items():
        if "." in name or name.startswith("<") or name in visitor.functions:
            continue
        if value.kind is Kind.DEVICE and value.device != DEV_ANY:
            fact = _value_fact(value, visitor)
            if fact is not None:
                constants[name] = fact
    all_names = None
    assigned = visitor.module_assigns.get("__all__")
    if assigned is not None:
        all_names = _literal_names(assigned)
    conditional = {
        name: {"params": _param_names(visitor.functions[name], False), "placed": sorted(params)}
        for name, params in sorted(visitor.conditional.items())
    }
    open_params = {
        name: {"params": _param_names(visitor.functions[name], False), "open": sorted(params)}
        for name, params in sorted(visitor.open_params.items())
    }
    return {
        "v": SUMMARY_VERSION,
        "classes": classes,
        "functions": functions,
        "constants": constants,
        "aliases": dict(visitor.imports.aliases),
        "stars": list(visitor.imports.stars),
        "all": all_names,
        "conditional": conditional,
        "calls": {q: sorted(keys) for q, keys in sorted(visitor.outgoing.items())},
        "open": open_params,
        # helpers with findings that only a caller could make real, named nowhere else
        # in the module (the project may still call them: `devlint.project.uncalled`)
        "unused": sorted(visitor.unused_helpers),
        # library code, a script or a program (`devlint.roles`): what its calls' CPU
        # arguments say about the helpers it calls (`devlint.project.callers_of`)
        "role": LIBRARY if visitor.open_world else PROGRAM if visitor.self_contained else SCRIPT,
        "fed": {q: calls for q, calls in sorted(visitor.fed.items())},
    }


def imports_summary(module: cst.Module, package: str) -> dict[str, Any]:
    """The summary of a module the engine does not analyse (it never mentions torch):
    only what it imports and exports, so that re-exports through it resolve (an
    `__init__.py` made of `from .models import Net`)."""
    from devlint.engine.names import ImportMap

    imports = ImportMap(package)
    imports.collect(module.body)
    all_names = None
    for stmt in module.body:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if (
                    isinstance(small, cst.Assign)
                    and len(small.targets) == 1
                    and isinstance(small.targets[0].target, cst.Name)
                    and small.targets[0].target.value == "__all__"
                ):
                    all_names = _literal_names(small.value)
    return {
        "v": SUMMARY_VERSION,
        "classes": {},
        "functions": {},
        "constants": {},
        "aliases": dict(imports.aliases),
        "stars": list(imports.stars),
        "all": all_names,
    }


def imported_value(fact: dict, oid: int, qname: str = "") -> Value:
    """The value a function result or constant fact of another module stands for
    (`qname`: the function's qualified name, for messages)."""
    device = frozenset(fact.get("device") or ())
    if fact.get("kind") == "module":
        return Value(Kind.MODULE, device, oid=oid, moves_inputs=bool(fact.get("moves")))
    if fact.get("kind") == "device":
        return Value(Kind.DEVICE, device)
    if fact.get("kind") == "tensor" and device == DEV_CPU:
        module, _, name = qname.rpartition(".")
        via = (
            f"`{name}` of `{module}` makes it with `{fact.get('factory', '...')}`, "
            "without `device=`"
        )
        return Value(Kind.TENSOR, DEV_CPU, scalar=False, via=via)
    return UNKNOWN


def decode_facts(pairs: Iterable[tuple[str, str]]) -> dict[str, dict[str, Any]]:
    return {name: json.loads(text) for name, text in pairs}


def bound_by_name(params: list[str], args: list[tuple[cst.Arg, Value]]) -> dict[str, Value]:
    """Parameter name -> argument of a call of another module's function (its summary's
    `params`), by position and keyword; nothing after a starred argument, which may
    shift the positions."""
    out: dict[str, Value] = {}
    for position, (arg, value) in enumerate(args):
        if arg.star:
            break
        if arg.keyword is not None:
            out[arg.keyword.value] = value
        elif position < len(params):
            out[params[position]] = value
    return out


def followed_argument(fact: dict, args: list[tuple[cst.Arg, Value]], qname: str) -> Value:
    """A function of another module that returns a tensor on the device of one of its
    parameters (its summary's `follows`): that tensor is where this call's argument is."""
    name = fact["follows"]
    value = bound_by_name(fact.get("params") or [], args).get(name)
    if value is None or value.kind is not Kind.TENSOR or not is_known(value.device):
        return UNKNOWN
    return tensor(value.device, scalar=None, via=f"`{qname}` returns it on `{name}`'s device")
