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
    """Does the body call `.to(...)`/`.cuda(...)` on one of its parameters?"""
    params = {p.name.value for p in func.params.params} - {"self"}
    return any(
        isinstance(f.value, cst.Name) and f.value.value in params
        for f in method_calls(func, ("to", "cuda"))
    )


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
