"""Syntactic questions the analysis asks of syntax-tree nodes (no values involved):
which calls a body makes, which parameters it uses as tensors, how arguments bind."""

from __future__ import annotations

import ast
from typing import Iterator, Optional, Sequence

from devlint.engine import names as N
from devlint.engine.nodes import (
    FUNCTION_DEFS,
    AnyFunctionDef,
    Arg,
    all_params,
    args_of,
    default_of,
    is_constant,
    keyword_value,
    positional,
    unstarred,
)
from devlint.engine.values import Kind, Value
from devlint.engine.walk import walk, walk_body


# ---------------------------------------------------------------------- helpers
def names_in(node: ast.AST) -> Iterator[str]:
    """Identifiers, attribute names and string literals in an expression, without
    generating its code."""
    for n in walk(node):
        cls = type(n)
        if cls is ast.Name:
            yield n.id
        elif cls is ast.Attribute:
            yield n.attr
        elif cls is ast.Constant and type(n.value) is str:
            yield repr(n.value)
        elif cls is ast.keyword and n.arg is not None:
            yield n.arg


def is_exit_call(call: ast.Call) -> bool:
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


def target_names(target: ast.AST) -> Iterator[str]:
    cls = type(target)
    if cls is ast.Name:
        yield target.id
    elif cls is ast.Tuple or cls is ast.List:
        for el in target.elts:
            yield from target_names(unstarred(el))


def subscript_key(node: ast.Subscript) -> Optional[str]:
    return N.string_value(node.slice)


def factory_scalar(last: str, pos: list[Arg]) -> Optional[bool]:
    if last == "scalar_tensor":
        return True
    if last in ("tensor", "as_tensor", "Tensor", "FloatTensor", "LongTensor"):
        if not pos:
            return None
        arg = pos[0].value
        if is_int_or_float(arg) or (
            type(arg) is ast.UnaryOp
            and type(arg.op) in (ast.USub, ast.UAdd, ast.Invert)
            and is_int_or_float(arg.operand)
        ):
            return last in ("tensor", "as_tensor")
        if isinstance(arg, (ast.List, ast.Tuple, ast.ListComp)):
            return False
        if is_constant(arg, bool):
            return True
        return None
    if last == "from_numpy":
        return None if not pos else False
    if pos and type(pos[0].value) is ast.Tuple and not pos[0].value.elts:
        return True
    return bool(pos and type(pos[0].value) is ast.List and not pos[0].value.elts)


def is_int_or_float(node: ast.AST) -> bool:
    """An integer or float literal (imaginary ones were not numbers to the old engine)."""
    return is_constant(node, int, float)


def calls(node: ast.AST, into_functions: bool = True) -> Iterator[ast.Call]:
    for n in walk(node, into_functions=into_functions):
        if type(n) is ast.Call:
            yield n


def method_calls(node: ast.AST, names: tuple[str, ...]) -> Iterator[ast.Attribute]:
    """The `x.name` callee of every `x.name(...)` call with `name` in `names`."""
    for call in calls(node):
        f = call.func
        if type(f) is ast.Attribute and f.attr in names:
            yield f


def places_with(func: AnyFunctionDef, name: str) -> bool:
    """Does the body use `name` to place data: `.to(name)`, `device=name`, `.cuda(name)`,
    `torch.device(name)`?"""

    def is_name(node: ast.AST) -> bool:
        return type(node) is ast.Name and node.id == name

    for call in calls(func):
        callee = N.dotted(call.func) or ""
        for a in args_of(call):
            if a.keyword is not None:
                if a.keyword in ("device", "map_location") and is_name(a.value):
                    return True
            elif is_name(a.value) and callee.endswith((".to", ".cuda", "torch.device")):
                return True
    return False


def mutated_self_attrs(methods: dict[str, AnyFunctionDef]) -> tuple[set[str], set[str]]:
    """`self.x` names that methods other than `__init__` assign, and those they move."""
    rebound: set[str] = set()
    moved: set[str] = set()
    for name, method in methods.items():
        if name == "__init__":
            continue
        for n in walk(method):  # one pass for both questions
            cls = type(n)
            if cls is ast.Assign:
                for assigned in n.targets:
                    for target in flat_targets(assigned):
                        dotted = N.dotted(target)
                        if dotted and dotted.startswith("self."):
                            rebound.add(dotted)
            elif cls is ast.Call:
                f = n.func
                if type(f) is ast.Attribute and f.attr in ("to", "cuda", "cpu"):
                    dotted = N.dotted(f.value)
                    if dotted and dotted.startswith("self."):
                        moved.add(dotted)
    return rebound, moved


def flat_targets(target: ast.AST) -> Iterator[ast.AST]:
    if type(target) is ast.Tuple or type(target) is ast.List:
        for el in target.elts:
            yield from flat_targets(unstarred(el))
    else:
        yield target


def collate_moves(module: ast.Module) -> bool:
    """Does a collate function of this file move batches to a device?"""
    return any(
        isinstance(n, FUNCTION_DEFS)
        and "collate" in n.name
        and any(True for _ in method_calls(n, ("to", "cuda")))
        for n in walk(module)
    )


def called_method_names(func: AnyFunctionDef) -> set[str]:
    return {c.func.attr for c in calls(func) if type(c.func) is ast.Attribute}


def moves_params(func: AnyFunctionDef) -> bool:
    """Does the body call `.to(...)`/`.cuda(...)` on one of its parameters, or move one
    of its own submodules to a parameter's device (`self.heads[k].to(x.device)`)?
    Either way the module meets its inputs where they are."""
    params = {p.arg for p in func.args.args} - {"self"}
    for call in calls(func):  # one pass for both questions
        f = call.func
        if not (type(f) is ast.Attribute and f.attr in ("to", "cuda")):
            continue
        if type(f.value) is ast.Name and f.value.id in params:
            return True
        if f.attr != "to":
            continue
        receiver = f.value
        while type(receiver) is ast.Attribute or type(receiver) is ast.Subscript:
            receiver = receiver.value
        if not (type(receiver) is ast.Name and receiver.id == "self"):
            continue  # `torch.tensor(...).to(x.device)` places new data, not the module
        for a in args_of(call):
            target = N.dotted(a.value) or ""
            if target.endswith(".device") and target[: -len(".device")] in params:
                return True
    return False


# functions whose `lengths` argument must be a CPU tensor (PyTorch raises otherwise)
_CPU_LENGTHS = ("pack_padded_sequence",)
# methods that keep a tensor's identity for this purpose (`lengths.cpu()`, `.long()`)
_LENGTH_CONVERSIONS = ("cpu", "long", "int", "to", "type", "view", "flatten", "squeeze")


def cpu_only_params(func: AnyFunctionDef) -> frozenset[str]:
    """Parameters the body passes as the `lengths` of `pack_padded_sequence`, which must
    be on the CPU whatever device the data is on: a CPU tensor there is correct, and one
    on a GPU is moved by the body itself when it calls `.cpu()` on it."""
    params = {p.arg for p in all_params(func.args)}
    found: set[str] = set()
    for call in calls(func):
        name = N.dotted(call.func) or ""
        if name.rsplit(".", 1)[-1] not in _CPU_LENGTHS:
            continue
        pos = positional(call)
        lengths = keyword_value(call, "lengths")
        if lengths is None and len(pos) >= 2:
            lengths = pos[1].value
        while (
            type(lengths) is ast.Call
            and type(lengths.func) is ast.Attribute
            and lengths.func.attr in _LENGTH_CONVERSIONS
        ):
            lengths = lengths.func.value
        if type(lengths) is ast.Name and lengths.id in params:
            found.add(lengths.id)
    return frozenset(found)


def tensor_uses(func: AnyFunctionDef) -> tuple[frozenset[str], frozenset[str]]:
    """Parameters the body evidently uses as tensors (`x.shape`, `x.view(...)`), and those
    whose only sign of being a tensor is a `.numpy()` call (NumPy-like arrays of other
    libraries have one too, so that alone is weaker evidence)."""
    params = {p.arg for p in all_params(func.args)}
    # a parameter rebound by a statement of the body itself to something new
    # (`shape = torch.as_tensor(shape)`) is another value after that statement: its uses
    # there say nothing of the argument.  `x = x.to(device)` or `x = x[0]` keep it.
    rebound: dict[str, int] = {}
    for stmt in func.body:
        if type(stmt) is ast.Assign:
            targets = [n for t in stmt.targets for n in target_names(t)]
        elif type(stmt) is ast.AnnAssign and stmt.value is not None:
            targets = list(target_names(stmt.target))
        else:
            continue
        root = _chain_root(stmt.value)
        for name in targets:
            if name in params and name not in rebound and root != name:
                rebound[name] = stmt.end_lineno or stmt.lineno
    strong: set[str] = set()
    numpy: set[str] = set()
    for n in walk_body(func.body, into_functions=False):
        if type(n) is ast.Attribute and type(n.value) is ast.Name and n.value.id in params:
            if n.value.id in rebound and n.lineno > rebound[n.value.id]:
                continue
            if n.attr in N.TENSOR_USE_ATTRS:
                strong.add(n.value.id)
            elif n.attr == "numpy":
                numpy.add(n.value.id)
    return frozenset(strong), frozenset(numpy - strong)


def _chain_root(node: Optional[ast.AST]) -> Optional[str]:
    """The name a chain of calls, attributes and subscripts starts from (`x` of
    `x.to(d).float()[0]`), else None."""
    while True:
        cls = type(node)
        if cls is ast.Call:
            node = node.func
        elif cls is ast.Attribute or cls is ast.Subscript:
            node = node.value
        elif cls is ast.Name:
            return node.id
        else:
            return None


def parameter_names(func: AnyFunctionDef, is_method: bool, args: Sequence[Arg]) -> list:
    """For each argument of a call of `func`, in order, the parameter it binds (None for
    none).  The list stops at the first starred argument: what follows binds who knows
    what."""
    params = [*func.args.posonlyargs, *func.args.args]
    if is_method and params and params[0].arg in ("self", "cls"):
        params = params[1:]
    names = [p.arg for p in params]
    kwonly = {p.arg for p in func.args.kwonlyargs}
    out: list[Optional[str]] = []
    i = 0
    for a in args:
        if a.star:
            break
        if a.keyword is None:
            out.append(names[i] if i < len(names) else None)
            i += 1
        else:
            out.append(a.keyword if a.keyword in names or a.keyword in kwonly else None)
    return out


def bind_args(
    func: AnyFunctionDef, is_method: bool, args: list[tuple[Arg, Value]]
) -> Optional[dict[str, Value]]:
    """Parameter name -> argument value for a call of `func` (None when it cannot tell)."""
    names = parameter_names(func, is_method, [a for a, _ in args])
    return {name: v for name, (_, v) in zip(names, args) if name is not None}


def is_device_expr(node: ast.AST, value: Value) -> bool:
    """A device value or a device string literal (`"cpu"`, `"cuda:0"`)."""
    if value.kind is Kind.DEVICE:
        return True
    s = N.string_value(node)
    return s is not None and (s.startswith("cpu") or N.accelerator_literal(node) is not None)


_SCALAR_TYPES = ("int", "float", "bool", "str")


def holds_no_state(bases: list[str], methods: dict[str, AnyFunctionDef]) -> bool:
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
    for p in (*init.args.args, *init.args.kwonlyargs):
        ann = N.dotted(p.annotation) if p.annotation is not None else None
        default = default_of(init, p)
        if ann in _SCALAR_TYPES or (default is not None and _is_literal(default)):
            scalars.add(p.arg)
    for n in walk(init):
        if type(n) is ast.AnnAssign:
            pairs = [(n.target, n.value)]
        elif type(n) is ast.Assign:
            pairs = []
            for t in n.targets:
                pairs.extend(_assigned_pairs(t, n.value))
        else:
            continue
        for target, value in pairs:
            if _is_self_attr(target) and not (
                value is None
                or _is_literal(value)
                or (type(value) is ast.Name and value.id in scalars)
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
    target: ast.AST, value: Optional[ast.AST]
) -> list[tuple[ast.AST, Optional[ast.AST]]]:
    """(target, value) pairs of an assignment, unpacking `self.a, self.b = a, b`; an
    unpacking whose right side is not a matching tuple pairs each target with itself as
    the value (never a literal)."""
    if type(target) is ast.Tuple or type(target) is ast.List:
        elements = [unstarred(e) for e in target.elts]
        if type(value) in (ast.Tuple, ast.List) and len(value.elts) == len(elements):
            return [
                pair
                for t, v in zip(elements, value.elts)
                for pair in _assigned_pairs(t, unstarred(v))
            ]
        return [(t, t) for t in elements]
    return [(target, value)]


def _is_self_attr(node: ast.AST) -> bool:
    return type(node) is ast.Attribute and type(node.value) is ast.Name and node.value.id == "self"


def _is_literal(node: ast.AST) -> bool:
    if type(node) is ast.Constant:
        # numbers, strings, True/False/None (not bytes or imaginary numbers, as before)
        return node.value is None or type(node.value) in (int, float, str, bool)
    if type(node) is ast.UnaryOp:
        return _is_literal(node.operand)
    if type(node) is ast.Tuple or type(node) is ast.List:
        return all(_is_literal(unstarred(e)) for e in node.elts)
    return False


def is_returning_fixture(func: AnyFunctionDef) -> bool:
    """`@pytest.fixture` (or `@fixture(...)`) on a function that returns its value (a
    fixture that yields keeps its parameters symbolic)."""
    decorated = False
    for d in func.decorator_list:
        expr = d.func if type(d) is ast.Call else d
        if (N.dotted(expr) or "").rsplit(".", 1)[-1] == "fixture":
            decorated = True
    if not decorated:
        return False
    return not any(type(n) is ast.Yield for n in walk_body(func.body, into_functions=False))
