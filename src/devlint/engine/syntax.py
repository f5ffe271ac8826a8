"""Syntactic questions the analysis asks of LibCST nodes (no values involved):
which calls a body makes, which parameters it uses as tensors, how arguments bind."""

from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from devlint.engine import names as N
from devlint.engine.values import Kind, Value
from devlint.engine.walk import walk


# ---------------------------------------------------------------------- helpers
def names_in(node: cst.CSTNode) -> Iterator[str]:
    """Identifiers and string literals in an expression, without generating its code."""
    for n in walk(node):
        if isinstance(n, (cst.Name, cst.SimpleString)):
            yield n.value


def is_exit_call(call: cst.Call) -> bool:
    """Calls that never return: the code after them is unreachable (a guard's early exit)."""
    text = N.dotted(call.func) or ""
    return text in (
        "sys.exit",
        "exit",
        "quit",
        "os._exit",
        "pytest.skip",
        "pytest.exit",
        "pytest.fail",
        "self.skipTest",
        "unittest.skip",
    )


def target_names(target: cst.BaseExpression) -> Iterator[str]:
    if isinstance(target, cst.Name):
        yield target.value
    elif isinstance(target, (cst.Tuple, cst.List)):
        for el in target.elements:
            yield from target_names(el.value)


def subscript_key(node: cst.Subscript) -> Optional[str]:
    if len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index):
        return N.string_value(node.slice[0].slice.value)
    return None


def factory_scalar(last: str, pos: list[cst.Arg]) -> Optional[bool]:
    if last == "scalar_tensor":
        return True
    if last in ("tensor", "as_tensor", "Tensor", "FloatTensor", "LongTensor"):
        if not pos:
            return None
        arg = pos[0].value
        if isinstance(arg, (cst.Integer, cst.Float)) or (
            isinstance(arg, cst.UnaryOperation)
            and isinstance(arg.expression, (cst.Integer, cst.Float))
        ):
            return last in ("tensor", "as_tensor")
        if isinstance(arg, (cst.List, cst.Tuple, cst.ListComp)):
            return False
        if isinstance(arg, cst.Name) and arg.value in ("True", "False"):
            return True
        return None
    if last == "from_numpy":
        return None if not pos else False
    if pos and isinstance(pos[0].value, cst.Tuple) and not pos[0].value.elements:
        return True
    return bool(pos and isinstance(pos[0].value, cst.List) and not pos[0].value.elements)


def calls(node: cst.CSTNode, into_functions: bool = True) -> Iterator[cst.Call]:
    for n in walk(node, into_functions=into_functions):
        if isinstance(n, cst.Call):
            yield n


def method_calls(node: cst.CSTNode, names: tuple[str, ...]) -> Iterator[cst.Attribute]:
    """The `x.name` callee of every `x.name(...)` call with `name` in `names`."""
    for call in calls(node):
        f = call.func
        if isinstance(f, cst.Attribute) and f.attr.value in names:
            yield f


def places_with(func: cst.FunctionDef, name: str) -> bool:
    """Does the body use `name` to place data: `.to(name)`, `device=name`, `.cuda(name)`,
    `torch.device(name)`?"""

    def is_name(node: cst.BaseExpression) -> bool:
        return isinstance(node, cst.Name) and node.value == name

    for call in calls(func):
        callee = N.dotted(call.func) or ""
        for a in call.args:
            if a.keyword is not None:
                if a.keyword.value in ("device", "map_location") and is_name(a.value):
                    return True
            elif is_name(a.value) and callee.endswith((".to", ".cuda", "torch.device")):
                return True
    return False


def mutated_self_attrs(methods: dict[str, cst.FunctionDef]) -> tuple[set[str], set[str]]:
    """`self.x` names that methods other than `__init__` assign, and those they move."""
    rebound: set[str] = set()
    moved: set[str] = set()
    for name, method in methods.items():
        if name == "__init__":
            continue
        for n in walk(method):  # one pass for both questions
            cls = type(n)
            if cls is cst.AssignTarget:
                for target in flat_targets(n.target):
                    dotted = N.dotted(target)
                    if dotted and dotted.startswith("self."):
                        rebound.add(dotted)
            elif cls is cst.Call:
                f = n.func
                if type(f) is cst.Attribute and f.attr.value in ("to", "cuda", "cpu"):
                    dotted = N.dotted(f.value)
                    if dotted and dotted.startswith("self."):
                        moved.add(dotted)
    return rebound, moved


def flat_targets(target: cst.BaseExpression) -> Iterator[cst.BaseExpression]:
    if isinstance(target, (cst.Tuple, cst.List)):
        for el in target.elements:
            yield from flat_targets(el.value)
    else:
        yield target


def collate_moves(module: cst.Module) -> bool:
    """Does a collate function of this file move batches to a device?"""
    return any(
        isinstance(n, cst.FunctionDef)
        and "collate" in n.name.value
        and any(True for _ in method_calls(n, ("to", "cuda")))
        for n in walk(module)
    )


def called_method_names(func: cst.FunctionDef) -> set[str]:
    return {c.func.attr.value for c in calls(func) if isinstance(c.func, cst.Attribute)}


def moves_params(func: cst.FunctionDef) -> bool:
    """Does the body call `.to(...)`/`.cuda(...)` on one of its parameters, or move one
    of its own submodules to a parameter's device (`self.heads[k].to(x.device)`)?
    Either way the module meets its inputs where they are."""
    params = {p.name.value for p in func.params.params} - {"self"}
    for call in calls(func):  # one pass for both questions
        f = call.func
        if not (isinstance(f, cst.Attribute) and f.attr.value in ("to", "cuda")):
            continue
        if isinstance(f.value, cst.Name) and f.value.value in params:
            return True
        if f.attr.value != "to":
            continue
        receiver = f.value
        while isinstance(receiver, (cst.Attribute, cst.Subscript)):
            receiver = receiver.value
        if not (isinstance(receiver, cst.Name) and receiver.value == "self"):
            continue  # `torch.tensor(...).to(x.device)` places new data, not the module
        for a in call.args:
            target = N.dotted(a.value) or ""
            if target.endswith(".device") and target[: -len(".device")] in params:
                return True
    return False


def tensor_uses(func: cst.FunctionDef) -> tuple[frozenset[str], frozenset[str]]:
    """Parameters the body evidently uses as tensors (`x.shape`, `x.view(...)`), and those
    whose only sign of being a tensor is a `.numpy()` call (NumPy-like arrays of other
    libraries have one too, so that alone is weaker evidence)."""
    params = {
        p.name.value
        for p in (*func.params.params, *func.params.kwonly_params, *func.params.posonly_params)
    }
    strong: set[str] = set()
    numpy: set[str] = set()
    for n in walk(func.body, into_functions=False):
        if type(n) is cst.Attribute and type(n.value) is cst.Name and n.value.value in params:
            if n.attr.value in N.TENSOR_USE_ATTRS:
                strong.add(n.value.value)
            elif n.attr.value == "numpy":
                numpy.add(n.value.value)
    return frozenset(strong), frozenset(numpy - strong)


def bind_args(
    func: cst.FunctionDef, is_method: bool, args: list[tuple[cst.Arg, Value]]
) -> Optional[dict[str, Value]]:
    """Parameter name -> argument value for a call of `func` (None when it cannot tell)."""
    params = [*func.params.posonly_params, *func.params.params]
    if is_method and params and params[0].name.value in ("self", "cls"):
        params = params[1:]
    names = [p.name.value for p in params]
    kwonly = {p.name.value for p in func.params.kwonly_params}
    bound: dict[str, Value] = {}
    i = 0
    for a, v in args:
        if a.star:
            return bound
        if a.keyword is None:
            if i < len(names):
                bound[names[i]] = v
            i += 1
        elif a.keyword.value in names or a.keyword.value in kwonly:
            bound[a.keyword.value] = v
    return bound


def is_device_expr(node: cst.BaseExpression, value: Value) -> bool:
    """A device value or a device string literal (`"cpu"`, `"cuda:0"`)."""
    if value.kind is Kind.DEVICE:
        return True
    s = N.string_value(node)
    return s is not None and (s.startswith("cpu") or N.accelerator_literal(node) is not None)


_SCALAR_TYPES = ("int", "float", "bool", "str")


def holds_no_state(bases: list[str], methods: dict[str, cst.FunctionDef]) -> bool:
    """A module class whose instances hold no tensors: its one base is `nn.Module`, no
    method registers a parameter or buffer, and `__init__` stores on `self` only literals
    and parameters known to be scalars (annotated `int`/`float`/`bool`/`str`, or with a
    literal default).  Calling it with tensors on any device cannot mix devices because
    of what it holds, so it has no device of its own."""
    if len(bases) != 1 or not (bases[0] == "Module" or bases[0].endswith("nn.Module")):
        return False
    init = methods.get("__init__")
    if init is None:
        return False
    scalars = set()
    for p in (*init.params.params, *init.params.kwonly_params):
        ann = N.dotted(p.annotation.annotation) if p.annotation is not None else None
        if ann in _SCALAR_TYPES or (p.default is not None and _is_literal(p.default)):
            scalars.add(p.name.value)
    for n in walk(init):
        if type(n) is cst.AnnAssign:
            pairs = [(n.target, n.value)]
        elif type(n) is cst.Assign:
            pairs = []
            for t in n.targets:
                pairs.extend(_assigned_pairs(t.target, n.value))
        else:
            continue
        for target, value in pairs:
            if _is_self_attr(target) and not (
                value is None
                or _is_literal(value)
                or (type(value) is cst.Name and value.value in scalars)
            ):
                return False
    # (checked last: most module classes already failed above, on a layer in __init__)
    for method in methods.values():
        for call in calls(method):
            name = N.dotted(call.func) or ""
            if name.rsplit(".", 1)[-1] in ("register_buffer", "register_parameter", "Parameter"):
                return False
    return True


def _assigned_pairs(
    target: cst.BaseExpression, value: Optional[cst.BaseExpression]
) -> list[tuple[cst.BaseExpression, Optional[cst.BaseExpression]]]:
    """(target, value) pairs of an assignment, unpacking `self.a, self.b = a, b`; an
    unpacking whose right side is not a matching tuple pairs each target with itself as
    the value (never a literal)."""
    if isinstance(target, (cst.Tuple, cst.List)):
        elements = [e.value for e in target.elements]
        if isinstance(value, (cst.Tuple, cst.List)) and len(value.elements) == len(elements):
            return [
                pair
                for t, v in zip(elements, value.elements)
                for pair in _assigned_pairs(t, v.value)
            ]
        return [(t, t) for t in elements]
    return [(target, value)]


def _is_self_attr(node: cst.BaseExpression) -> bool:
    return (
        type(node) is cst.Attribute and type(node.value) is cst.Name and node.value.value == "self"
    )


def _is_literal(node: cst.BaseExpression) -> bool:
    if isinstance(node, (cst.Integer, cst.Float, cst.SimpleString)):
        return True
    if type(node) is cst.Name:
        return node.value in ("True", "False", "None")
    if isinstance(node, cst.UnaryOperation):
        return _is_literal(node.expression)
    if isinstance(node, (cst.Tuple, cst.List)):
        return all(_is_literal(e.value) for e in node.elements)
    return False


def is_returning_fixture(func: cst.FunctionDef) -> bool:
    """`@pytest.fixture` (or `@fixture(...)`) on a function that returns its value (a
    fixture that yields keeps its parameters symbolic)."""
    decorated = False
    for d in func.decorators:
        expr = d.decorator.func if isinstance(d.decorator, cst.Call) else d.decorator
        if (N.dotted(expr) or "").rsplit(".", 1)[-1] == "fixture":
            decorated = True
    if not decorated:
        return False
    return not any(type(n) is cst.Yield for n in walk(func.body, into_functions=False))
