"""Syntactic questions the analysis asks of LibCST nodes (no values involved):
which calls a body makes, which parameters it uses as tensors, how arguments bind."""

from __future__ import annotations

from typing import Callable, Iterator, Optional, Sequence

import libcst as cst

from devlint.engine import names as N
from devlint.engine.values import NO_CONST, Kind, Value, constant, param_names
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
    if last.endswith("Tensor"):
        # a legacy constructor takes sizes or a sequence, never a Python number: its
        # tensor is never 0-dim (`torch.FloatTensor(2.5)` raises)
        return False
    if last in ("tensor", "as_tensor"):
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


# `calls(node)` by node id, for the file being analysed (`forget_calls` empties it): the
# same function bodies are asked about again and again (moves, placements, methods)
_CALLS: dict[tuple[int, bool], tuple[cst.CSTNode, list[cst.Call]]] = {}


def calls(node: cst.CSTNode, into_functions: bool = True) -> list[cst.Call]:
    """Every call under `node`, in source order (nested defs too unless told not to)."""
    key = (id(node), into_functions)
    known = _CALLS.get(key)
    if known is not None and known[0] is node:
        return known[1]
    found = [n for n in walk(node, into_functions=into_functions) if type(n) is cst.Call]
    _CALLS[key] = (node, found)
    return found


def forget_calls() -> None:
    """Drop the cache of `calls` (between files: node ids are reused)."""
    _CALLS.clear()


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
            if cls is cst.Assign:
                given = _handed_back(n.value)
                for t in n.targets:
                    for target in flat_targets(t.target):
                        dotted = N.dotted(target)
                        if dotted and dotted.startswith("self.") and dotted not in given:
                            rebound.add(dotted)
            elif cls is cst.Call:
                f = n.func
                if type(f) is cst.Attribute and f.attr.value in ("to", "cuda", "cpu"):
                    dotted = N.dotted(f.value)
                    if dotted and dotted.startswith("self."):
                        moved.add(dotted)
    return rebound, moved


# calls that hand back the objects they are given, where they were (`self.model, opt =
# amp.initialize(self.model, opt)`, `self.model = torch.compile(self.model)`)
_HANDS_BACK = ("amp.initialize", "torch.compile", "jit.script")


def _handed_back(value: cst.BaseExpression) -> set[str]:
    """The `self.x` arguments of a call that hands its arguments back unchanged in
    place: assigning its result to the same `self.x` rebinds nothing."""
    if type(value) is not cst.Call:
        return set()
    callee = N.dotted(value.func) or ""
    if not callee.endswith(_HANDS_BACK):
        return set()
    return {d for a in value.args if (d := N.dotted(a.value)) and d.startswith("self.")}


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


def moves_items(func: cst.FunctionDef) -> bool:
    """Does a dataset's `__getitem__` move something (`.to(...)`, `.cuda()`) or make it
    with `device=`?  Its items, and the batches of a loader over it, may then be off the
    CPU (`collate_moves` asks the same of a collate function)."""
    return any(
        (type(c.func) is cst.Attribute and c.func.attr.value in ("to", "cuda"))
        or any(a.keyword is not None and a.keyword.value == "device" for a in c.args)
        for c in calls(func, into_functions=False)
    )


def called_method_names(func: cst.FunctionDef) -> set[str]:
    return {c.func.attr.value for c in calls(func) if isinstance(c.func, cst.Attribute)}


def copies_to_host(func: cst.FunctionDef) -> bool:
    """Whether the function copies some value to the host itself (`.cpu()`,
    `.to("cpu")`): it knows that its data may be on an accelerator."""
    for n in walk(func, into_functions=False):
        if type(n) is cst.Call and type(n.func) is cst.Attribute:
            name = n.func.attr.value
            if name == "cpu" or (
                name == "to" and n.args and N.string_value(n.args[0].value) == "cpu"
            ):
                return True
    return False


def isinstance_tested(func: cst.FunctionDef) -> frozenset[str]:
    """Names the function tests with `isinstance(name, ...)`: values of several kinds (a
    list of images, an array, a tensor), whose kind on a path the engine does not
    narrow."""
    return frozenset(
        n.args[0].value.value  # type: ignore[attr-defined]
        for n in walk(func, into_functions=False)
        if type(n) is cst.Call
        and type(n.func) is cst.Name
        and n.func.value == "isinstance"
        and n.args
        and type(n.args[0].value) is cst.Name
    )


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


# functions whose `lengths` argument must be a CPU tensor (PyTorch raises otherwise)
_CPU_LENGTHS = ("pack_padded_sequence",)
# methods that keep a tensor's identity for this purpose (`lengths.cpu()`, `.long()`)
_LENGTH_CONVERSIONS = ("cpu", "long", "int", "to", "type", "view", "flatten", "squeeze")


def has_param(func: cst.FunctionDef, name: str) -> bool:
    """Whether `func` has a parameter called `name` (of any kind but `*args`/`**kw`)."""
    return any(p.name.value == name for p in all_params(func))


def all_params(func: cst.FunctionDef) -> list[cst.Param]:
    """Every named parameter of `func` (positional-only, ordinary, keyword-only)."""
    p = func.params
    return [*p.posonly_params, *p.params, *p.kwonly_params]


def keyword_arg(call: cst.Call, name: str) -> Optional[cst.Arg]:
    """The argument passed as `name=...`, if any."""
    for a in call.args:
        if a.keyword is not None and a.keyword.value == name:
            return a
    return None


def positional_args(call: cst.Call) -> list[cst.Arg]:
    """The positional arguments of a call, starred ones left out."""
    return [a for a in call.args if a.keyword is None and not a.star]


def cpu_only_params(func: cst.FunctionDef) -> frozenset[str]:
    """Parameters the body passes as the `lengths` of `pack_padded_sequence`, which must
    be on the CPU whatever device the data is on: a CPU tensor there is correct, and one
    on a GPU is moved by the body itself when it calls `.cpu()` on it."""
    params = {p.name.value for p in all_params(func)}
    found: set[str] = set()
    for call in calls(func):
        name = N.dotted(call.func) or ""
        if name.rsplit(".", 1)[-1] not in _CPU_LENGTHS:
            continue
        pos = positional_args(call)
        kw = keyword_arg(call, "lengths")
        lengths = kw.value if kw is not None else (pos[1].value if len(pos) >= 2 else None)
        while (
            type(lengths) is cst.Call
            and type(lengths.func) is cst.Attribute
            and lengths.func.attr.value in _LENGTH_CONVERSIONS
        ):
            lengths = lengths.func.value
        if type(lengths) is cst.Name and lengths.value in params:
            found.add(lengths.value)
    return frozenset(found)


def body_statements(func: cst.FunctionDef) -> Sequence[cst.CSTNode]:
    """The statements of a function's body (the small statements of a one-line body)."""
    return func.body.body


def tensor_uses(func: cst.FunctionDef) -> tuple[frozenset[str], frozenset[str]]:
    """Parameters the body evidently uses as tensors (`x.shape`, `x.view(...)`), and those
    whose only sign of being a tensor is a `.numpy()` call (NumPy-like arrays of other
    libraries have one too, so that alone is weaker evidence)."""
    params = {p.name.value for p in all_params(func)}
    # a parameter rebound by a statement of the body itself to something new
    # (`shape = torch.as_tensor(shape)`) is another value after that statement: its uses
    # there say nothing of the argument.  `x = x.to(device)` or `x = x[0]` keep it.
    statements = body_statements(func)
    rebound: dict[str, int] = {}
    for index, stmt in enumerate(statements):
        for small in _small_statements(stmt):
            if type(small) is cst.Assign:
                targets = [n for t in small.targets for n in target_names(t.target)]
            elif type(small) is cst.AnnAssign and small.value is not None:
                targets = list(target_names(small.target))
            else:
                continue
            root = _chain_root(small.value)
            for name in targets:
                if name in params and name not in rebound and root != name:
                    rebound[name] = index
    strong: set[str] = set()
    numpy: set[str] = set()
    strong |= _moved_and_fed(func, params) - rebound.keys()
    for index, stmt in enumerate(statements):
        for n in walk(stmt, into_functions=False):
            if type(n) is cst.Call and n.args and type(n.args[0].value) is cst.Name:
                name = n.args[0].value.value
                if (
                    name in params
                    and not n.args[0].keyword
                    and not n.args[0].star
                    and not (name in rebound and index > rebound[name])
                    and takes_tensor_first(n.func)
                ):
                    strong.add(name)  # `F.conv2d(img, w)`, `torch.sigmoid(x)`
                continue
            if type(n) is cst.Attribute and _through_data(n) in params:
                # `x.data.numpy()`, `x.data.cpu()`: `.data` of a tensor (a NumPy array's is
                # a memoryview, which has neither)
                name = _through_data(n)
                if name in rebound and index > rebound[name]:
                    continue
                if n.attr.value == "numpy":
                    numpy.add(name)
                elif n.attr.value in N.TENSOR_USE_ATTRS and n.attr.value not in ("shape", "ndim"):
                    strong.add(name)
                continue
            if type(n) is cst.Attribute and type(n.value) is cst.Name and n.value.value in params:
                name = n.value.value
                if name in rebound and index > rebound[name]:
                    continue
                if n.attr.value in N.TENSOR_USE_ATTRS:
                    strong.add(name)
                elif n.attr.value == "numpy":
                    numpy.add(name)
    return frozenset(strong), frozenset(numpy - strong)


def tensor_containers(func: cst.FunctionDef, candidates: frozenset[str]) -> frozenset[str]:
    """Parameters among `candidates` whose elements the body uses as tensors: a loop over
    one (`for out in outputs:`, `enumerate(outputs)`, `losses.values()`, `.items()`)
    whose element gets a tensor method (`out.sum()`) or a `torch.<op>`."""
    found: set[str] = set()
    for node in walk(func, into_functions=False):
        if type(node) is not cst.For:
            continue
        pair = _loop_element(node, candidates)
        if pair is None or pair[0] in found:
            continue
        container, element = pair
        if _used_as_tensor(node.body, element):
            found.add(container)
    return frozenset(found)


def tensor_attributes(func: cst.FunctionDef, candidates: frozenset[str]) -> set[tuple[str, str]]:
    """(parameter, attribute) pairs among `candidates` whose attribute the body uses as a
    tensor (`data.edge_index.size(1)`, `torch.unique(graph.batch)`): a container of the
    caller's tensors (a PyG `Data`, a point cloud), each on the caller's device."""
    found: set[tuple[str, str]] = set()
    # `index = graph.edge_index`: a local name for the attribute
    aliases: dict[str, tuple[str, str]] = {}
    used: list[cst.BaseExpression] = []
    for n in walk(func, into_functions=False):
        operand = _tensor_operand(n)
        if operand is not None:
            used.append(operand)
        elif type(n) is cst.Assign and len(n.targets) == 1:
            target, pair = n.targets[0].target, _parameter_attribute(n.value, candidates)
            if type(target) is cst.Name and pair is not None:
                aliases[target.value] = pair
    for owner in used:
        pair = _parameter_attribute(owner, candidates)
        if pair is None and type(owner) is cst.Name:
            pair = aliases.get(owner.value)
        if pair is not None:
            found.add(pair)
    return found


def _parameter_attribute(
    node: cst.BaseExpression, candidates: frozenset[str]
) -> Optional[tuple[str, str]]:
    """(parameter, attribute) for `p.attr` of a parameter among `candidates`, not a
    layer's own tensors."""
    if (
        type(node) is cst.Attribute
        and type(node.value) is cst.Name
        and node.value.value in candidates
        and node.attr.value not in _LAYER_STATE
    ):
        return node.value.value, node.attr.value
    return None


# a layer's own tensors: a parameter holding them is a module, whose device is its own
# business (a converter reads a CPU model's `w.weight` into NumPy)
_LAYER_STATE = frozenset({"weight", "bias", "running_mean", "running_var"})


def _loop_element(loop: cst.For, candidates: frozenset[str]) -> Optional[tuple[str, str]]:
    """(parameter, element name) for `for x in p`, `for i, x in enumerate(p)`,
    `for x in p.values()` and `for k, x in p.items()`; else None."""
    it, target = loop.iter, loop.target
    second = None
    if type(target) is cst.Tuple and len(target.elements) == 2:
        second = target.elements[1].value
    if type(it) is cst.Name and type(target) is cst.Name:
        return (it.value, target.value) if it.value in candidates else None
    if type(it) is not cst.Call or (it.args and len(it.args) != 1):
        return None
    func = it.func
    if type(func) is cst.Name and func.value == "enumerate" and it.args:
        owner = it.args[0].value
        element = second
    elif type(func) is cst.Attribute and not it.args and func.attr.value in ("values", "items"):
        owner = func.value
        element = target if func.attr.value == "values" else second
    else:
        return None
    if type(owner) is not cst.Name or owner.value not in candidates:
        return None
    if type(element) is not cst.Name:
        return None
    return owner.value, element.value


def _used_as_tensor(body: cst.BaseSuite, name: str) -> bool:
    """`name.<tensor method or attribute>` or `torch.<op>(name, ...)` in `body`."""
    for n in walk(body, into_functions=False):
        operand = _tensor_operand(n)
        if type(operand) is cst.Name and operand.value == name:
            return True
    return False


def _tensor_operand(node: cst.CSTNode) -> Optional[cst.BaseExpression]:
    """What `node` uses as a tensor: the owner of a tensor method or attribute
    (`x` of `x.view(...)`), or the first argument of a `torch.<op>` that takes a tensor
    first (`torch.sigmoid(x)`); None for anything else."""
    if type(node) is cst.Attribute and node.attr.value in N.TENSOR_USE_ATTRS:
        return node.value
    if type(node) is cst.Call and node.args and takes_tensor_first(node.func):
        return node.args[0].value
    return None


# names of parameters that hold several tensors, or objects whose `.to()` works in place
# (a PyG `Data`, an HF `BatchEncoding`, a dict batch): moved as a statement, then fed to a
# model, they are no tensors
_CONTAINER_NAMES = frozenset(
    {
        "data", "batch", "graph", "g", "sample", "samples", "inputs", "encoding", "encodings",
        "encoded", "features", "item", "example", "record", "state", "obs", "observation",
    }
)  # fmt: skip


def _moved_and_fed(func: cst.FunctionDef, params: set[str]) -> set[str]:
    """Parameters moved by a bare statement (`x.to(device)`) and then handed to a model
    (`model(x)`, `self.net(x)`): that is what a tensor input is (issue 14); not those
    named as containers (`data.to(device); model(data)` is PyG's idiom)."""
    moved: set[str] = set()
    fed: set[str] = set()
    for n in walk(func, into_functions=False):
        if type(n) is cst.Expr and type(n.value) is cst.Call:
            call = n.value
            if (
                type(call.func) is cst.Attribute
                and call.func.attr.value in ("to", "cuda")
                and type(call.func.value) is cst.Name
            ):
                moved.add(call.func.value.value)
        elif type(n) is cst.Call and n.args and type(n.args[0].value) is cst.Name:
            callee = N.dotted(n.func) or ""
            if not n.args[0].keyword and not n.args[0].star and N.is_model_name(callee):
                fed.add(n.args[0].value.value)  # type: ignore[union-attr]
    return (moved & fed & params) - _CONTAINER_NAMES


def _through_data(node: cst.Attribute) -> Optional[str]:
    """`x` for `x.data.<attr>`, else None."""
    owner = node.value
    if (
        type(owner) is cst.Attribute
        and owner.attr.value == "data"
        and type(owner.value) is cst.Name
    ):
        return owner.value.value
    return None


# `torch.<op>` functions whose first argument must be a tensor (not creators such as
# `torch.tensor`/`as_tensor`, which take lists and numbers, nor predicates such as
# `torch.is_tensor`): a parameter passed there is a tensor
# fmt: off
TENSOR_FIRST_OPS = frozenset(
    {
        "matmul", "mm", "bmm", "exp", "log", "abs", "sum", "mean", "max", "min",
        "argmax", "argmin", "sigmoid", "tanh", "softmax", "log_softmax", "relu", "clamp",
        "gather", "index_select", "masked_select", "masked_fill", "flatten", "reshape",
        "transpose", "permute", "unsqueeze", "squeeze", "sqrt", "norm", "topk", "sort",
        "argsort", "cumsum", "cumprod", "diff", "flip", "roll", "zeros_like", "ones_like",
        "full_like", "empty_like", "rand_like", "randn_like", "conv1d", "conv2d", "conv3d",
        "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "bucketize", "searchsorted",
        "nonzero", "unique", "floor", "ceil", "round", "sin", "cos", "atan2", "erf", "logsumexp",
        "prod", "std", "var", "amax", "amin", "outer", "cdist", "baddbmm", "addmm", "tril",
        "triu", "diagonal", "diag_embed", "repeat_interleave", "split", "chunk", "narrow",
        "index_add", "scatter", "scatter_add", "take_along_dim", "fft", "isnan", "isinf",
    }
)
# fmt: on


def takes_tensor_first(func: cst.BaseExpression) -> bool:
    """A call of `torch.<op>` from `TENSOR_FIRST_OPS` or of any `torch.nn.functional`
    function (spelled `F.`, `functional.`, `nn.functional.`, `torch.nn.functional.`)."""
    if type(func) is not cst.Attribute:
        return False
    owner = func.value
    if type(owner) is cst.Name:
        if owner.value in ("F", "functional"):
            return True
        return owner.value == "torch" and func.attr.value in TENSOR_FIRST_OPS
    return type(owner) is cst.Attribute and owner.attr.value == "functional"


def _small_statements(stmt: cst.CSTNode) -> Sequence[cst.CSTNode]:
    """The small statements of a statement line; a compound statement has none."""
    if type(stmt) is cst.SimpleStatementLine:
        return stmt.body
    if isinstance(stmt, cst.BaseSmallStatement):
        return (stmt,)
    return ()


def _chain_root(node: Optional[cst.CSTNode]) -> Optional[str]:
    """The name a chain of calls, attributes and subscripts starts from (`x` of
    `x.to(d).float()[0]`), else None."""
    while True:
        cls = type(node)
        if cls is cst.Call:
            node = node.func
        elif cls is cst.Attribute or cls is cst.Subscript:
            node = node.value
        elif cls is cst.Name:
            return node.value
        else:
            return None


def parameter_names(
    func: cst.FunctionDef, is_method: bool, args: Sequence[cst.Arg]
) -> list[Optional[str]]:
    """For each argument of a call of `func`, in order, the parameter it binds (None for
    none).  The list stops at the first starred argument: what follows binds who knows
    what."""
    params = [*func.params.posonly_params, *func.params.params]
    if is_method and params and params[0].name.value in ("self", "cls"):
        params = params[1:]
    names = [p.name.value for p in params]
    kwonly = {p.name.value for p in func.params.kwonly_params}
    out: list[Optional[str]] = []
    i = 0
    for a in args:
        if a.star:
            break
        if a.keyword is None:
            out.append(names[i] if i < len(names) else None)
            i += 1
        else:
            kw = a.keyword.value
            out.append(kw if kw in names or kw in kwonly else None)
    return out


def move_helper(func: cst.FunctionDef) -> Optional[tuple[str, str]]:
    """`(data, device)` when `func` moves its parameter `data` to its parameter `device`
    and returns it, whatever nesting it comes in: every `return` gives `data.to(device)`,
    `data` itself (what is not a tensor stays as it is), or what calls of `func` itself
    make (one call, or a list, tuple, set or dict of them; asteroid's
    `tensors_to_device(tensors, device)`, the `to_device(batch, device)` of many
    projects), and at least one gives the move."""
    params = {p.name.value for p in all_params(func)}
    name = func.name.value
    moved: Optional[tuple[str, str]] = None
    returns = [n for n in walk(func.body, into_functions=False) if type(n) is cst.Return]
    if not returns:
        return None

    def recursive(expr: cst.BaseExpression) -> bool:
        if type(expr) is cst.Call and N.last_name(expr.func) in ("tuple", "list", "dict"):
            return len(expr.args) == 1 and recursive(expr.args[0].value)
        if type(expr) is cst.Call:
            return N.last_name(expr.func) == name
        if type(expr) in (cst.ListComp, cst.SetComp, cst.GeneratorExp):
            return recursive(expr.elt)  # type: ignore[attr-defined]
        if type(expr) is cst.DictComp:
            return recursive(expr.value)  # type: ignore[attr-defined]
        if type(expr) in (cst.List, cst.Tuple, cst.Set):
            elements = expr.elements  # type: ignore[attr-defined]
            return bool(elements) and all(recursive(e.value) for e in elements)
        return False

    kept: set[str] = set()
    for ret in returns:
        value = ret.value
        if value is None:
            return None
        if type(value) is cst.Name and value.value in params:
            kept.add(value.value)
            continue
        if (
            type(value) is cst.Call
            and type(value.func) is cst.Attribute
            and value.func.attr.value == "to"
            and type(value.func.value) is cst.Name
            and value.func.value.value in params
            and value.args
            and type(value.args[0].value) is cst.Name
            and value.args[0].value.value in params
            and (value.args[0].keyword is None or value.args[0].keyword.value == "device")
        ):
            found = (value.func.value.value, value.args[0].value.value)
            if moved is not None and moved != found:
                return None
            moved = found
            continue
        if recursive(value):
            continue
        return None
    if moved is None or kept - {moved[0]}:
        return None
    return moved


def bind_args(
    func: cst.FunctionDef, is_method: bool, args: list[tuple[cst.Arg, Value]]
) -> Optional[dict[str, Value]]:
    """Parameter name -> argument value for a call of `func` (None when it cannot tell)."""
    names = parameter_names(func, is_method, [a for a, _ in args])
    return {name: v for name, (_, v) in zip(names, args) if name is not None}


_FLAGS = {"True": True, "False": False, "None": None}


def flag_constant(node: cst.BaseExpression) -> object:
    """`True`, `False` or `None` written as such; `NO_CONST` for anything else."""
    if isinstance(node, cst.Name) and node.value in _FLAGS:
        return _FLAGS[node.value]
    return NO_CONST


def literal_default(p: cst.Param) -> object:
    """The constant a parameter defaults to when it is `True`, `False`, `None` or an int
    literal; `NO_CONST` otherwise (strings and expressions keep the parameter symbolic)."""
    default = p.default
    if default is None:
        return NO_CONST
    flag = flag_constant(default)
    if flag is not NO_CONST:
        return flag
    negative = False
    if isinstance(default, cst.UnaryOperation) and isinstance(default.operator, cst.Minus):
        default, negative = default.expression, True
    if isinstance(default, cst.Integer):
        try:
            number = int(default.value, 0)
        except ValueError:
            return NO_CONST
        return -number if negative else number
    return NO_CONST


def default_constants(func: cst.FunctionDef, bound: dict[str, Value]) -> dict[str, Value]:
    """Values of the parameters a call leaves out whose default is a constant
    (`literal_default`): what the function sees when called that way."""
    out: dict[str, Value] = {}
    for p in (*func.params.posonly_params, *func.params.params, *func.params.kwonly_params):
        if p.name.value in bound or p.default is None:
            continue
        value = literal_default(p)
        if value is not NO_CONST:
            out[p.name.value] = constant(value)
    return out


def runs_with_defaults(func: cst.FunctionDef) -> bool:
    """A test function or method, which unittest and pytest call with the defaults of the
    parameters that have one (unless `parametrize` supplies them)."""
    if not func.name.value.startswith("test"):
        return False
    return not any("parametrize" in set(names_in(d.decorator)) for d in func.decorators)


def same_device_pairs(test: cst.BaseExpression, holds: bool) -> list[tuple[str, str]]:
    """The pairs of tensors (dotted names) whose devices are equal where `test` evaluates
    to `holds`: `a.device == b.device` (or `is`) holding, `a.device != b.device` failing,
    under `not`, the conjuncts of a true `and` and the disjuncts of a false `or`."""
    while isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        test, holds = test.expression, not holds
    if isinstance(test, cst.BooleanOperation):
        if isinstance(test.operator, cst.And) is holds:
            return same_device_pairs(test.left, holds) + same_device_pairs(test.right, holds)
        return []
    if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
        return []
    op = test.comparisons[0].operator
    if isinstance(op, (cst.Equal, cst.Is)):
        equal = holds
    elif isinstance(op, (cst.NotEqual, cst.IsNot)):
        equal = not holds
    else:
        return []
    sides = [test.left, test.comparisons[0].comparator]
    keys = [
        N.dotted(side.value)
        if isinstance(side, cst.Attribute) and side.attr.value == "device"
        else None
        for side in sides
    ]
    if not equal or keys[0] is None or keys[1] is None:
        return []
    return [(keys[0], keys[1])]


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


# Calls and names that skip a test: what a guard decorator defined in the project is made
# of (`pytest.mark.skipif`, `unittest.skipUnless`, `raise unittest.SkipTest`, `pytest.skip`).
SKIP_NAMES = frozenset(("skip", "skipif", "skipIf", "skipUnless", "skipTest", "SkipTest"))
# the set-up hooks of a test class, which run before each of its tests
SETUP_HOOKS = ("setUp", "setUpClass", "setup_method", "setup_class", "setup")


# `@pytest.mark.skip`, `@pytest.mark.skip(reason=...)`, `@unittest.skip("...")`: the test
# never runs (the decorator's callee as the imports qualify it)
UNCONDITIONAL_SKIPS = frozenset(("pytest.mark.skip", "unittest.skip"))


def mentions_skip(node: cst.CSTNode) -> bool:
    """The definition of a project decorator skips tests somewhere in its body."""
    return any(type(n) is cst.Name and n.value in SKIP_NAMES for n in walk(node))


def exits_statement(stmt: cst.CSTNode) -> bool:
    """`raise ...`, `self.skipTest(...)`, `pytest.skip(...)`: a statement after which the
    rest of a set-up hook (and the test it prepares) does not run."""
    if isinstance(stmt, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
        return any(exits_statement(s) for s in stmt.body)
    if isinstance(stmt, cst.Raise):
        return True
    if isinstance(stmt, cst.Expr) and isinstance(stmt.value, cst.Call):
        return is_exit_call(stmt.value)
    return False


def leaves(suite: cst.BaseSuite) -> bool:
    """The block ends by leaving its function: `return`, `raise`, `sys.exit()`,
    `pytest.skip()` as its last statement."""
    last = suite if isinstance(suite, cst.SimpleStatementSuite) else suite.body[-1]
    if not isinstance(last, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
        return False
    return any(isinstance(s, cst.Return) or exits_statement(s) for s in last.body)


def setup_skips(func: cst.FunctionDef, is_condition: Callable[[cst.CSTNode], bool]) -> bool:
    """A set-up hook that skips (or fails) the test where no accelerator is: `if not
    torch.cuda.is_available(): self.skipTest(...)` / `raise unittest.SkipTest(...)`
    among its top-level statements, or a skip with no condition at all."""
    if not isinstance(func.body, cst.IndentedBlock):
        return False
    for stmt in func.body.body:
        if isinstance(stmt, cst.If) and is_condition(stmt.test):
            body = stmt.body.body
            if body and exits_statement(body[-1]):
                return True
        elif isinstance(stmt, cst.SimpleStatementLine) and exits_statement(stmt):
            return True
    return False


_PLACING = frozenset(("register_buffer", "register_parameter", "Parameter"))


def places_state(init: cst.FunctionDef) -> bool:
    """A module's `__init__` that may put its parameters or buffers on a device itself:
    it registers buffers or parameters from tensors, names a device, or forwards
    `**kwargs` (`factory_kwargs`) to its layers.  Only such constructors are analysed
    with the caller's arguments (`CallsMixin.constructed_device`)."""
    for n in walk(init.body):
        if type(n) is cst.Name and (n.value in _PLACING or N.is_device_name(n.value)):
            return True
        if type(n) is cst.Arg and n.star == "**":
            return True
    return False


def unconditional_statements(body: cst.BaseSuite | Sequence[cst.CSTNode]) -> set[int]:
    """Ids of the small statements of a block that run whenever the block does: its own
    simple statements and those of `with` blocks in it (not branches, loops or `try`)."""
    statements = (
        body.body if isinstance(body, (cst.IndentedBlock, cst.SimpleStatementSuite)) else body
    )
    out: set[int] = set()
    for stmt in statements:
        if isinstance(stmt, cst.BaseSmallStatement):
            out.add(id(stmt))
        elif isinstance(stmt, cst.SimpleStatementLine):
            out.update(id(small) for small in stmt.body)
        elif isinstance(stmt, cst.With):
            out.update(unconditional_statements(stmt.body))
    return out


def conditional_parts(stmt: cst.CSTNode) -> set[int]:
    """Ids of the nodes of a statement that may not run when it does: the branches of a
    conditional expression, the right operand of `and`/`or`, lambdas and comprehensions
    (all but their first iterable)."""
    out: set[int] = set()

    def take(node: cst.CSTNode) -> None:
        out.update(id(n) for n in walk(node))

    for n in walk(stmt):
        t = type(n)
        if t is cst.IfExp:
            take(n.body)
            take(n.orelse)
        elif t is cst.BooleanOperation:
            take(n.right)
        elif t is cst.Lambda:
            take(n.body)
        elif t in (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp):
            for child in n.children:
                if child is not n.for_in:
                    take(child)
            take(n.for_in)
            out.discard(id(n.for_in.iter))
            out.difference_update(id(x) for x in walk(n.for_in.iter))
    return out


def none_tested(test: cst.BaseExpression, is_none: bool) -> Optional[str]:
    """The plain name that `test` compares with `None`: `x is None` (`is_none`) or
    `x is not None` (not `is_none`); None for any other test."""
    if type(test) is not cst.Comparison or len(test.comparisons) != 1:
        return None
    target = test.comparisons[0]
    wanted = cst.Is if is_none else cst.IsNot
    if type(target.operator) is not wanted or type(test.left) is not cst.Name:
        return None
    comparator = target.comparator
    if type(comparator) is not cst.Name or comparator.value != "None":
        return None
    return test.left.value


# `isinstance(x, Number)`, `isinstance(x, (int, float))`: a number, not a tensor
_NUMBER_TYPES = frozenset({"int", "float", "Number", "numbers.Number", "Real", "numbers.Real"})
_TENSOR_TYPES = frozenset({"torch.Tensor", "Tensor"})


def _isinstance_of(test: cst.BaseExpression) -> Optional[tuple[str, set[str]]]:
    """`isinstance(name, T)` or `isinstance(name, (T1, T2))`: the name and the type names;
    `torch.is_tensor(name)` counts as `isinstance(name, torch.Tensor)`."""
    if type(test) is not cst.Call or not test.args or type(test.args[0].value) is not cst.Name:
        return None
    callee = N.dotted(test.func)
    name = test.args[0].value.value
    if callee in ("torch.is_tensor", "is_tensor") and len(test.args) == 1:
        return name, {"torch.Tensor"}
    if callee != "isinstance" or len(test.args) != 2:
        return None
    kinds = test.args[1].value
    elements = kinds.elements if type(kinds) is cst.Tuple else [cst.Element(kinds)]
    names = {N.dotted(e.value) or "?" for e in elements}
    return name, names


_AVAILABLE = frozenset(
    {
        "torch.cuda.is_available",
        "cuda.is_available",
        "torch.backends.mps.is_available",
        "torch.xpu.is_available",
        "torch.accelerator.is_available",
    }
)


def accelerator_branch(test: cst.BaseExpression) -> Optional[bool]:
    """Which branch of `if test:` runs only where an accelerator is: True for the body
    (`torch.cuda.is_available()`, `x.is_cuda`, either one `and` something else), False
    for the `else` (`not torch.cuda.is_available()`), None when neither does."""
    if type(test) is cst.UnaryOperation and type(test.operator) is cst.Not:
        inner = accelerator_branch(test.expression)
        return False if inner is True else None
    if type(test) is cst.BooleanOperation and type(test.operator) is cst.And:
        if accelerator_branch(test.left) is True or accelerator_branch(test.right) is True:
            return True
        return None
    if type(test) is cst.Call and not test.args and N.dotted(test.func) in _AVAILABLE:
        return True
    if type(test) is cst.Attribute and test.attr.value == "is_cuda":
        return True
    return None


def exits_with_accelerators(test: cst.BaseExpression) -> bool:
    """A device test whose exit (`if test: raise`) does not leave only accelerator runs
    behind: a conjunction with no availability test (`if rnn == "SRU" and not opt.gpuid:`
    stops SRU runs only) or a count of accelerators above one (`if len(opt.gpuid) > 1:
    sys.exit(...)` stops multi-GPU runs; CPU runs go on).  `if not cfg.cpu and not
    torch.cuda.is_available(): raise` leaves CPU runs asked for and runs where CUDA is:
    it still guards, as it always did."""
    if type(test) is cst.BooleanOperation:
        if type(test.operator) is not cst.And:
            return False
        return not any(accelerator_branch(part) is False for part in (test.left, test.right))
    if type(test) is cst.Comparison and len(test.comparisons) == 1:
        target = test.comparisons[0]
        bound = target.comparator
        if type(target.operator) in (cst.GreaterThan, cst.GreaterThanEqual) and (
            type(bound) is cst.Integer
        ):
            return int(bound.value, 0) >= 1
    return False


def cuda_tested(test: cst.BaseExpression) -> Optional[cst.BaseExpression]:
    """The tensor `test` finds on a CUDA device: `x.is_cuda` (or `x.device.type ==
    "cuda"`); None for any other test."""
    if type(test) is cst.Attribute and test.attr.value == "is_cuda":
        return test.value
    if type(test) is cst.Comparison and len(test.comparisons) == 1:
        target = test.comparisons[0]
        left = test.left
        if (
            type(target.operator) is cst.Equal
            and N.string_value(target.comparator) == "cuda"
            and type(left) is cst.Attribute
            and left.attr.value == "type"
            and type(left.value) is cst.Attribute
            and left.value.attr.value == "device"
        ):
            return left.value.value
    return None


def assigned_once(func: cst.FunctionDef, test: cst.BaseExpression) -> cst.BaseExpression:
    """What a plain name stands for when the function assigns that name once
    (`scalar = isinstance(t, Number)` ... `if scalar:`, `path = tmp_path / "x.pt"`); the
    expression itself otherwise."""
    if type(test) is not cst.Name:
        return test
    found: list[cst.BaseExpression] = []
    for node in walk(func, into_functions=False):
        if type(node) is cst.Assign:
            for t in node.targets:
                if type(t.target) is cst.Name and t.target.value == test.value:
                    found.append(node.value)
        elif type(node) in (cst.AugAssign, cst.AnnAssign, cst.For, cst.NamedExpr):
            target = getattr(node, "target", None)
            if type(target) is cst.Name and target.value == test.value:
                return test
    return found[0] if len(found) == 1 else test


def number_tested(test: cst.BaseExpression, is_number: bool) -> Optional[str]:
    """The plain name that `test` finds to be a number rather than a tensor
    (`is_number`: `isinstance(t, Number)`, `isinstance(t, (int, float))`, `not
    isinstance(t, torch.Tensor)`, `not torch.is_tensor(t)`) or a tensor (not `is_number`:
    the same tests the other way round); None for any other test."""
    negated = type(test) is cst.UnaryOperation and type(test.operator) is cst.Not
    found = _isinstance_of(test.expression if negated else test)  # type: ignore[attr-defined]
    if found is None:
        return None
    name, kinds = found
    if kinds <= _NUMBER_TYPES:
        says_number = True
    elif kinds <= _TENSOR_TYPES:
        says_number = False
    else:
        return None
    return name if (says_number != negated) == is_number else None


def registers_submodules(func: Optional[cst.FunctionDef]) -> bool:
    """`func` registers modules by name (`self.add_module(...)`,
    `self.register_module(...)`, `setattr(self, ...)`)."""
    if func is None:
        return False
    for node in walk(func):
        if type(node) is not cst.Call:
            continue
        callee = node.func
        if type(callee) is cst.Attribute and callee.attr.value in ("add_module", "register_module"):
            return True
        if (
            type(callee) is cst.Name
            and callee.value == "setattr"
            and node.args
            and type(node.args[0].value) is cst.Name
            and node.args[0].value.value == "self"
        ):
            return True
    return False


def _raises_on_accelerator(test: cst.BaseExpression) -> set[str]:
    """Names whose being on an accelerator makes `test` true: `x.is_cuda`, `x.is_cuda or
    ...`, `x.device.type != "cpu"`, `x.device.type == "cuda"`."""
    if (
        type(test) is cst.Attribute
        and test.attr.value == "is_cuda"
        and type(test.value) is cst.Name
    ):
        return {test.value.value}
    if type(test) is cst.BooleanOperation and isinstance(test.operator, cst.Or):
        return _raises_on_accelerator(test.left) | _raises_on_accelerator(test.right)
    if type(test) is cst.Comparison and len(test.comparisons) == 1:
        left, (target,) = test.left, test.comparisons
        if (
            type(left) is cst.Attribute
            and left.attr.value == "type"
            and type(left.value) is cst.Attribute
            and left.value.attr.value == "device"
            and type(left.value.value) is cst.Name
        ):
            word = N.string_value(target.comparator)
            op = type(target.operator)
            if (op is cst.NotEqual and word == "cpu") or (op is cst.Equal and word == "cuda"):
                return {left.value.value.value}
    return set()


def rejects_accelerator(func: cst.FunctionDef) -> frozenset[str]:
    """Parameters the function refuses on an accelerator by a statement of its own body
    (`refused_on_accelerator`): the code after it only ever sees them on the CPU (pyro's
    `SpanningTree` says it does not support CUDA)."""
    names: set[str] = set()
    for stmt in func.body.body if isinstance(func.body, cst.IndentedBlock) else ():
        names |= refused_on_accelerator(stmt)
    return frozenset(names)


def refused_on_accelerator(stmt: cst.CSTNode) -> set[str]:
    """Names a statement refuses on an accelerator: `if x.is_cuda: raise ...` (no
    `else`), `assert not x.is_cuda`, `assert x.device.type == "cpu"`.  After it, they
    are on the CPU."""
    names: set[str] = set()
    if type(stmt) is cst.If and stmt.orelse is None:
        body = stmt.body.body
        first = body[0] if body else None
        # `if x.is_cuda: raise ...` on one line, or a block that starts with the raise
        smalls = (
            body
            if isinstance(stmt.body, cst.SimpleStatementSuite)
            else (first.body if isinstance(first, cst.SimpleStatementLine) else ())
        )
        if any(type(s) is cst.Raise for s in smalls):
            names |= _raises_on_accelerator(stmt.test)
        return names
    smalls = stmt.body if isinstance(stmt, cst.SimpleStatementLine) else [stmt]
    for small in smalls:
        if type(small) is not cst.Assert:
            continue
        test = small.test
        if type(test) is cst.UnaryOperation and isinstance(test.operator, cst.Not):
            names |= _raises_on_accelerator(test.expression)
        elif type(test) is cst.Comparison and len(test.comparisons) == 1:
            only = test.comparisons[0]
            if type(only.operator) is cst.Equal and N.string_value(only.comparator) == "cpu":
                negated = only.with_changes(operator=cst.NotEqual())
                names |= _raises_on_accelerator(test.with_changes(comparisons=[negated]))
    return names


def name_calls(module: cst.Module) -> tuple[dict[str, int], dict[str, list[cst.Call]]]:
    """How often each name is used (not as another object's attribute: `F.attention` is
    not `attention`), and the calls of each name: one walk, for `agreed_flags`."""
    uses: dict[str, int] = {}
    calls: dict[str, list[cst.Call]] = {}
    attrs: set[int] = set()
    for node in walk(module):
        if type(node) is cst.Attribute:
            attrs.add(id(node.attr))
        elif type(node) is cst.Name and id(node) not in attrs:
            uses[node.value] = uses.get(node.value, 0) + 1
        if type(node) is cst.Call and type(node.func) is cst.Name:
            calls.setdefault(node.func.value, []).append(node)
    return uses, calls


def agreed_flags(
    func: cst.FunctionDef, index: tuple[dict[str, int], dict[str, list[cst.Call]]]
) -> dict[str, object]:
    """The flags (`True`/`False`/`None`) of a module-level function that every call in
    the module passes alike, or leaves to the same constant default: the function's
    branches on them are decided (issue 13, class 1: `def attention(..., is_causal=False)`
    whose only call passes `is_causal=False` never runs its causal branch).  Empty when
    the name is used other than by calls (a callback, an export) or a call unpacks
    arguments.  `index`: `name_calls` of the module."""
    name = func.name.value
    uses_of, calls_of = index
    calls = calls_of.get(name, [])
    # the def's own name, then one use per call
    if not calls or uses_of.get(name, 0) != len(calls) + 1:
        return {}
    params = [*func.params.posonly_params, *func.params.params]
    named = {p.name.value: p for p in (*params, *func.params.kwonly_params)}
    seen: dict[str, set] = {}  # parameter -> the flags calls give it (NO_CONST: other)
    for call in calls:
        if any(a.star for a in call.args):
            return {}
        given: dict[str, object] = {}
        for i, arg in enumerate(a for a in call.args if a.keyword is None):
            if i < len(params):
                given[params[i].name.value] = flag_constant(arg.value)
        for arg in call.args:
            if arg.keyword is not None:
                given[arg.keyword.value] = flag_constant(arg.value)
        for pname, p in named.items():
            if pname in given:
                value = given[pname]
            else:
                value = flag_constant(p.default) if p.default is not None else NO_CONST
            seen.setdefault(pname, set()).add(value)
    return {
        pname: next(iter(values))
        for pname, values in seen.items()
        if len(values) == 1 and NO_CONST not in values
    }


def iterated_container(iterable: cst.BaseExpression) -> Optional[str]:
    """`batch` in `for k in batch`, `for k in batch.keys()`, `for k, v in batch.items()`."""
    if type(iterable) is cst.Call and type(iterable.func) is cst.Attribute:
        if iterable.func.attr.value not in ("keys", "items") or iterable.args:
            return None
        iterable = iterable.func.value
    return N.dotted(iterable)


_TENSOR_TESTS = frozenset({"isinstance", "is_tensor", "torch.is_tensor", "hasattr"})


def stores_each_tensor_entry(loop: cst.For, container: str) -> bool:
    """Whether the body of `for k, v in container.items():` stores into `container[k]`
    unconditionally or under tests of what the entry is (`isinstance(v, torch.Tensor)`,
    `torch.is_tensor(v)`, `hasattr(v, "to")`): the entries it skips are not tensors.
    Not under any other test (`if k != "labels":` leaves a tensor behind)."""

    def search(body: Sequence[cst.CSTNode]) -> bool:
        for stmt in body:
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    if isinstance(small, cst.Assign) and any(
                        type(t.target) is cst.Subscript and N.dotted(t.target.value) == container
                        for t in small.targets
                    ):
                        return True
            elif isinstance(stmt, cst.If) and stmt.orelse is None:
                test = stmt.test
                if (
                    type(test) is cst.Call
                    and (N.dotted(test.func) or "") in _TENSOR_TESTS
                    and search(stmt.body.body)
                ):
                    return True
        return False

    return search(loop.body.body)


def without_input(
    func: cst.FunctionDef, node: cst.CSTNode, device: frozenset[str], other: cst.CSTNode
) -> bool:
    """Whether `node` (a returned expression) runs only where the input of the other path
    is missing: a parameter that `device` follows (`sym:param:x`) or a name that `other`
    (that path's returned expression) uses, tested inside `if x is None:` or `if not x:`,
    or in the `else` of `if x is not None:`."""
    params = param_names(device)
    params.update(n.value for n in walk(other) if type(n) is cst.Name)
    for stmt in walk(func, into_functions=False):
        if type(stmt) is not cst.If:
            continue
        missing = _tests_missing(stmt.test, params)
        if missing is None:
            continue
        branch = stmt.body if missing else stmt.orelse
        if branch is not None and any(n is node for n in walk(branch, into_functions=False)):
            return True
    return False


# factories that convert data they are given (host data, when a path converts it)
_CONVERSIONS = frozenset({"from_numpy", "as_tensor", "asarray", "from_dlpack", "frombuffer"})
# the nodes of literal numbers, and of lists and tuples of them (`[0.0, -1]`)
_LITERAL_DATA = frozenset(
    (cst.Integer, cst.Float, cst.List, cst.Tuple, cst.Element, cst.UnaryOperation, cst.Minus)
)


def converts_data(call: cst.CSTNode) -> bool:
    """`torch.from_numpy(a)`, `torch.as_tensor(a)`, or `torch.tensor(a)` /
    `torch.Tensor(a)` of anything but literal numbers."""
    if type(call) is not cst.Call:
        return False
    last = N.last_name(call.func)
    if last in _CONVERSIONS:
        return True
    if last in ("tensor", "Tensor") and call.args:
        data = call.args[0].value
        return not all(type(n) in _LITERAL_DATA for n in walk(data))
    return False


def _tests_missing(test: cst.BaseExpression, params: set[str]) -> Optional[bool]:
    """True for `p is None` / `not p` (or an `or` of tests with one of them), False for
    `p is not None` / `p`, None for anything else."""
    if type(test) is cst.BooleanOperation and type(test.operator) is cst.Or:
        left = _tests_missing(test.left, params)
        return True if left is True else _tests_missing(test.right, params)
    if type(test) is cst.UnaryOperation and type(test.operator) is cst.Not:
        inner = test.expression
        return True if type(inner) is cst.Name and inner.value in params else None
    if type(test) is cst.Name:
        return False if test.value in params else None
    if none_tested(test, True) in params:
        return True
    if none_tested(test, False) in params:
        return False
    return None
