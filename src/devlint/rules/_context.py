"""Where a reported node sits, for the wording and the fixes of rules.

The engine's facts say what happens at a node; a message or a fix sometimes also needs
what surrounds it: the loop whose target a discarded move names, the method and the
module class a factory is written in, whether that class holds parameters or buffers
(so that `next(self.parameters()).device` names a device at all), where an instance of
the class is moved.  These are questions about the syntax around one node, asked only
for files that have such a finding, so the answers are computed on first use and kept
on the file's facts.
"""

from __future__ import annotations

import re
from typing import Iterator, Optional

import libcst as cst

from devlint.engine.facts import FileFacts
from devlint.engine.names import dotted, is_host_argument, string_value
from devlint.engine.walk import iter_children, walk


def parents(facts: FileFacts) -> dict[int, cst.CSTNode]:
    """Each node's parent, by the child's id, built once per file (iteratively: deeply
    nested code cannot overflow the stack)."""
    known: Optional[dict[int, cst.CSTNode]] = getattr(facts, "_devlint_parents", None)
    if known is None:
        known = {}
        if facts.module is not None:
            stack: list[cst.CSTNode] = [facts.module]
            while stack:
                node = stack.pop()
                for child in iter_children(node):
                    known[id(child)] = node
                    stack.append(child)
        facts._devlint_parents = known  # type: ignore[attr-defined]
    return known


def ancestors(facts: FileFacts, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """The nodes around `node`, innermost first."""
    up = parents(facts)
    current = up.get(id(node))
    while current is not None:
        yield current
        current = up.get(id(current))


def enclosing_function(facts: FileFacts, node: cst.CSTNode) -> Optional[cst.FunctionDef]:
    """The innermost `def` around `node` (lambdas and comprehensions are looked through)."""
    for up in ancestors(facts, node):
        if type(up) is cst.FunctionDef:
            return up
        if type(up) is cst.ClassDef:
            return None
    return None


def enclosing_method(
    facts: FileFacts, node: cst.CSTNode
) -> Optional[tuple[cst.ClassDef, cst.FunctionDef]]:
    """The class and the instance method (first parameter `self`, not a static or class
    method) that `node` is written in, or None."""
    func = enclosing_function(facts, node)
    if func is None:
        return None
    up = parents(facts)
    block = up.get(id(func))
    cls = up.get(id(block)) if block is not None else None
    if type(cls) is not cst.ClassDef:
        return None
    params = func.params.posonly_params or func.params.params
    if not params or params[0].name.value != "self":
        return None
    decorators = {dotted(d.decorator) for d in func.decorators}
    if decorators & {"staticmethod", "classmethod"}:
        return None
    return cls, func


def parameter_names(func: cst.FunctionDef) -> list[str]:
    """A function's parameters, in order, `self` left out."""
    p = func.params
    names = [x.name.value for x in (*p.posonly_params, *p.params, *p.kwonly_params)]
    return [n for n in names if n != "self"]


def names_in(node: cst.CSTNode) -> set[str]:
    """The identifiers an expression reads."""
    return {n.value for n in walk(node) if type(n) is cst.Name}


# attributes and methods that only a tensor has among the values a parameter usually holds:
# a parameter used with one of them is an input tensor
_TENSOR_USES = frozenset(
    {
        "shape",
        "size",
        "device",
        "dtype",
        "ndim",
        "dim",
        "numel",
        "view",
        "reshape",
        "unsqueeze",
        "squeeze",
        "permute",
        "transpose",
        "flatten",
        "contiguous",
        "new_zeros",
        "new_ones",
        "new_full",
        "new_empty",
        "masked_fill",
        "matmul",
        "sum",
        "mean",
        "abs",
        "exp",
        "log",
        "softmax",
        "argmax",
        "detach",
        "clone",
        "expand",
        "expand_as",
        "type_as",
        "index_select",
        "gather",
        "narrow",
        "norm",
    }
)


def uses_as_tensor(func: cst.FunctionDef, name: str) -> bool:
    """Whether the body of `func` reads `name.shape`, `name.size(...)`... (see above)."""
    for node in walk(func.body):
        if (
            type(node) is cst.Attribute
            and type(node.value) is cst.Name
            and node.value.value == name
            and node.attr.value in _TENSOR_USES
        ):
            return True
    return False


def rebinds(func: cst.FunctionDef, name: str) -> bool:
    """Whether `func` assigns `name` anywhere (then `name.device` may name another value)."""
    for node in walk(func.body):
        cls = type(node)
        if (
            cls is cst.AssignTarget
            or cls is cst.For
            or cls is cst.AugAssign
            or cls is cst.AnnAssign
        ):
            target = node.target
            if name in names_in(target) and type(target) in (cst.Name, cst.Tuple, cst.List):
                return True
        elif cls is cst.NamedExpr and type(node.target) is cst.Name and node.target.value == name:
            return True
    return False


# --- module classes: do they hold parameters or buffers? --------------------------------

# torch.nn layers with no parameter of their own (activations, dropout, pooling, padding,
# reshaping, losses): a class holding only these has nothing `self.parameters()` yields
_PARAMETER_FREE = re.compile(
    r"^(Identity|Flatten|Unflatten|\w*Dropout\w*|ReLU6?|LeakyReLU|R?R?ELU|CELU|SELU|GELU|SiLU|"
    r"Mish|Sigmoid|LogSigmoid|Tanh|Tanhshrink|Softmax2?d?|LogSoftmax|Softmin|Softplus|Softsign|"
    r"Softshrink|Hardshrink|Hardtanh|Hardsigmoid|Hardswish|Threshold|GLU|Upsample\w*|"
    r"Pixel(Un)?[Ss]huffle|ChannelShuffle|\w*Pad[123]d|\w*Pool[123]d|LPPool\w*|Fold|Unfold|"
    r"CosineSimilarity|PairwiseDistance|\w*Loss|InstanceNorm[123]d)$"
)
_CONTAINERS = frozenset({"Sequential", "ModuleList", "ModuleDict"})
# layers with parameters that files import by their bare name (`from torch.nn import Linear`)
_BARE_LAYERS = frozenset(
    {
        "Linear",
        "Bilinear",
        "Conv1d",
        "Conv2d",
        "Conv3d",
        "ConvTranspose1d",
        "ConvTranspose2d",
        "ConvTranspose3d",
        "Embedding",
        "EmbeddingBag",
        "LSTM",
        "GRU",
        "RNN",
        "LSTMCell",
        "GRUCell",
        "RNNCell",
        "LayerNorm",
        "GroupNorm",
        "BatchNorm1d",
        "BatchNorm2d",
        "BatchNorm3d",
        "MultiheadAttention",
        "Transformer",
        "TransformerEncoder",
        "TransformerDecoder",
        "TransformerEncoderLayer",
        "TransformerDecoderLayer",
        "PReLU",
    }
)


def classes(facts: FileFacts) -> dict[str, cst.ClassDef]:
    """The file's classes by name (the last definition of a name wins, as at run time)."""
    known: Optional[dict[str, cst.ClassDef]] = getattr(facts, "_devlint_classes", None)
    if known is None:
        known = {}
        if facts.module is not None:
            for node in walk(facts.module):
                if type(node) is cst.ClassDef:
                    known[node.name.value] = node
        facts._devlint_classes = known  # type: ignore[attr-defined]
    return known


def is_module_class(
    facts: FileFacts, cls: cst.ClassDef, seen: frozenset[int] = frozenset()
) -> bool:
    """A subclass of `nn.Module` (or of a class whose name ends in `Module`, such as
    `LightningModule`), directly or through classes of this file."""
    if id(cls) in seen:
        return False
    local = classes(facts)
    for base in cls.bases:
        name = dotted(base.value) or ""
        last = name.rsplit(".", 1)[-1]
        if last.endswith("Module"):
            return True
        if name in local and is_module_class(facts, local[name], seen | {id(cls)}):
            return True
    return False


def _has_parameters(facts: FileFacts, value: cst.BaseExpression, seen: frozenset[int]) -> bool:
    """Whether `value`, assigned to an attribute of a module, brings parameters: a
    `nn.Parameter`, a torch.nn layer that has weights, a container of such layers, or an
    instance of a module class of this file that has some."""
    if type(value) is not cst.Call:
        return False
    name = dotted(value.func) or ""
    last = name.rsplit(".", 1)[-1]
    in_nn = name.startswith(("nn.", "torch.nn.")) and ".functional." not in name
    if last == "Parameter":
        return True
    if last in _CONTAINERS and (in_nn or last == name):
        for arg in value.args:
            if arg.star:
                return False
            items: list[cst.BaseExpression] = [arg.value]
            if type(arg.value) in (cst.List, cst.Tuple):
                items = [e.value for e in arg.value.elements]  # type: ignore[attr-defined]
            elif type(arg.value) is cst.Dict:
                items = [e.value for e in arg.value.elements if type(e) is cst.DictElement]  # type: ignore[attr-defined]
            if any(_has_parameters(facts, item, seen) for item in items):
                return True
        return False
    local = classes(facts)
    if name in local:
        return class_state(facts, local[name], seen)[0]
    if not (in_nn or name in _BARE_LAYERS) or not last[:1].isupper():
        return False
    if _PARAMETER_FREE.match(last):
        return False
    for arg in value.args:
        keyword = arg.keyword.value if arg.keyword is not None else ""
        if keyword in ("affine", "elementwise_affine") and dotted(arg.value) == "False":
            return False
    return True


def class_state(
    facts: FileFacts, cls: cst.ClassDef, seen: frozenset[int] = frozenset()
) -> tuple[bool, list[str]]:
    """(whether instances hold a parameter, the buffers they register by name), read from
    the `self.<attr> = ...`, `register_buffer`, `register_parameter` and `add_module`
    statements of the class's methods."""
    if id(cls) in seen:
        return False, []
    seen = seen | {id(cls)}
    has_parameters = False
    buffers: list[str] = []
    for node in walk(cls.body):
        cls_type = type(node)
        if cls_type is cst.Assign or cls_type is cst.AnnAssign:
            targets = [t.target for t in node.targets] if cls_type is cst.Assign else [node.target]
            value = node.value
            if value is not None and any(_is_self_attr(t) for t in targets):
                has_parameters = has_parameters or _has_parameters(facts, value, seen)
        elif cls_type is cst.Call and type(node.func) is cst.Attribute:
            receiver, method = node.func.value, node.func.attr.value
            if type(receiver) is not cst.Name or receiver.value != "self" or len(node.args) < 2:
                continue
            first, second = node.args[0].value, node.args[1].value
            if dotted(second) == "None":
                continue
            if method == "register_buffer":
                label = string_value(first)
                if label is not None and label.isidentifier():
                    buffers.append(label)
            elif method == "register_parameter":
                has_parameters = True
            elif method == "add_module":
                has_parameters = has_parameters or _has_parameters(facts, second, seen)
    return has_parameters, buffers


def _is_self_attr(node: cst.BaseExpression) -> bool:
    return (
        type(node) is cst.Attribute and type(node.value) is cst.Name and node.value.value == "self"
    )


def module_device(facts: FileFacts, at: cst.CSTNode) -> Optional[str]:
    """An expression for the device of the module whose method holds `at`: its first
    parameter's (`next(self.parameters()).device`) when the class holds one, else its
    first registered buffer's; None outside such a method, in `__init__` (where the
    parameters may not exist yet, and are on the CPU anyway) and for classes with
    neither (`next()` would raise StopIteration)."""
    found = enclosing_method(facts, at)
    if found is None:
        return None
    cls, func = found
    if func.name.value == "__init__" or not is_module_class(facts, cls):
        return None
    if rebinds(func, "self"):
        return None
    has_parameters, buffers = class_state(facts, cls)
    if has_parameters:
        return "next(self.parameters()).device"
    if buffers:
        return f"self.{buffers[0]}.device"
    return None


def tensor_operands(node: cst.CSTNode) -> set[str]:
    """The names an expression uses as tensors: the whole expression, an operand of an
    operator, an argument of a call, a subscripted value; not a callee (`model(x)`: only
    `x`), which a module or a function may be."""
    if type(node) is cst.Name:
        return {node.value}
    found: set[str] = set()
    for n in walk(node):
        cls = type(n)
        if cls is cst.BinaryOperation:
            parts: tuple[cst.CSTNode, ...] = (n.left, n.right)
        elif cls is cst.Arg or cls is cst.Subscript:
            parts = (n.value,)
        else:
            continue
        found.update(p.value for p in parts if type(p) is cst.Name)  # type: ignore[attr-defined]
    return found


def _called(func: cst.FunctionDef, name: str) -> bool:
    """Whether `func` calls `name(...)` (then it is a module or a function, not a tensor)."""
    return any(
        type(n) is cst.Call and type(n.func) is cst.Name and n.func.value == name
        for n in walk(func.body)
    )


def input_tensor(
    facts: FileFacts, at: cst.CSTNode, partner: Optional[cst.CSTNode]
) -> Optional[str]:
    """A parameter of the function holding `at` that is an input tensor on the partner's
    device: one the partner expression uses as a tensor (`x` in `self.encoder(x) * w`), or
    one the body uses as a tensor (`x.shape`, `x.size(0)`...).  Never one the function
    calls (a module) or assigns again."""
    func = enclosing_function(facts, at)
    if func is None:
        return None
    params = parameter_names(func)
    used: set[str] = set()
    if partner is not None and any(up is func for up in ancestors(facts, partner)):
        used = tensor_operands(partner)
    for name in params:
        if rebinds(func, name) or _called(func, name):
            continue
        if name in used or uses_as_tensor(func, name):
            return name
    return None


def module_moves(facts: FileFacts, cls: cst.ClassDef) -> Optional[cst.Call]:
    """The first call in the file that moves an instance of `cls` (`Net().to(device)`,
    `model.cuda()` after `model = Net()`), or None."""
    found: Optional[tuple[list[cst.Call], list[tuple[str, cst.BaseExpression]]]] = getattr(
        facts, "_devlint_moves", None
    )
    if found is None:
        moves: list[cst.Call] = []
        bound: list[tuple[str, cst.BaseExpression]] = []  # (target, value) of assignments
        for node in walk(facts.module) if facts.module is not None else ():
            cls_type = type(node)
            if cls_type is cst.Assign and type(node.value) is cst.Call:
                for t in node.targets:
                    target = dotted(t.target)
                    if target is not None:
                        bound.append((target, node.value))
            elif (
                cls_type is cst.Call
                and type(node.func) is cst.Attribute
                and node.func.attr.value in ("to", "cuda", "xpu", "to_empty")
            ):
                moves.append(node)
        found = facts._devlint_moves = (moves, bound)  # type: ignore[attr-defined]
    moves, bound = found
    name = cls.name.value
    instances = {target for target, value in bound if _instantiates(value, name)}
    for call in moves:
        receiver = call.func.value  # type: ignore[attr-defined]
        if _instantiates(receiver, name) or dotted(receiver) in instances:
            return call
    return None


def _instantiates(node: cst.BaseExpression, name: str) -> bool:
    """`Name(...)`, `mod.Name(...)`, or one of those moved (`Name(...).to(d)`)."""
    while type(node) is cst.Call:
        func = node.func
        target = dotted(func)
        if target is not None and target.rsplit(".", 1)[-1] == name:
            return True
        if type(func) is not cst.Attribute:
            return False
        node = func.value
    return False


def enclosing_loop(facts: FileFacts, node: cst.CSTNode, name: str) -> Optional[cst.For]:
    """The innermost `for` loop around `node`, in the same function, whose target binds
    `name` and whose body (not its `else`) holds `node`."""
    child: cst.CSTNode = node
    for up in ancestors(facts, node):
        cls = type(up)
        if cls in (cst.FunctionDef, cst.ClassDef, cst.Lambda):
            return None
        if cls is cst.For and child is up.body and name in _target_names(up.target):
            return up
        child = up
    return None


def _target_names(target: cst.BaseExpression) -> set[str]:
    if type(target) is cst.Name:
        return {target.value}
    if type(target) in (cst.Tuple, cst.List):
        found: set[str] = set()
        for element in target.elements:  # type: ignore[attr-defined]
            found |= _target_names(element.value)
        return found
    return set()


def read_after(facts: FileFacts, statement: cst.CSTNode, loop: cst.For, name: str) -> bool:
    """Whether `name` is read in the loop's body after `statement` in source order (the
    statement itself left out): the uses a rebinding at `statement` repairs."""
    passed = False
    skip: set[int] = set()  # names that are not reads: attributes, keywords, plain stores
    for node in walk(loop.body):
        cls = type(node)
        if node is statement:
            passed = True
            skip.update(id(n) for n in walk(statement))
        elif cls is cst.Attribute:
            skip.add(id(node.attr))
        elif cls is cst.Arg and node.keyword is not None:
            skip.add(id(node.keyword))
        elif cls is cst.AssignTarget and type(node.target) is cst.Name:
            skip.add(id(node.target))
        elif passed and cls is cst.Name and node.value == name and id(node) not in skip:
            return True
    return False


def host_argument(facts: FileFacts, name: cst.Name) -> bool:
    """Whether this read of a name is an argument PyTorch accepts on the CPU beside
    accelerator tensors (`HOST_ARGUMENTS`)."""
    up = parents(facts)
    arg = up.get(id(name))
    if type(arg) is not cst.Arg:
        return False
    call = up.get(id(arg))
    if type(call) is not cst.Call:
        return False
    return is_host_argument(dotted(call.func) or "", call.args, arg)


def only_host_reads_after(facts: FileFacts, statement: cst.CSTNode, name: str) -> bool:
    """Whether `name`, read after `statement` in its function (or module), is read only
    as `HOST_ARGUMENTS` (and read at all): a move of it that was discarded breaks nothing."""
    scope: cst.CSTNode = enclosing_function(facts, statement) or facts.module
    # in a loop, the reads earlier in its body come after the move on the next iteration
    start: cst.CSTNode = statement
    for node in ancestors(facts, statement):
        if node is scope:
            break
        if type(node) in (cst.For, cst.While):
            start = node
    passed = False
    reads = 0
    skip: set[int] = set(id(n) for n in walk(statement))
    for node in walk(scope):
        if node is start:
            passed = True
        if node is statement:
            continue
        if passed and type(node) is cst.Assign and _keeps_device_rebinding(node, name):
            # `x = x.int()`: the same tensor, on the same device, under the same name
            skip.update(id(n) for n in walk(node))
            continue
        if not passed or type(node) is not cst.Name or node.value != name or id(node) in skip:
            continue
        parent = parents(facts).get(id(node))
        if type(parent) is cst.Attribute and parent.attr is node:
            continue
        if type(parent) is cst.Arg and parent.keyword is node:
            continue
        if type(parent) is cst.AssignTarget:
            return reads > 0  # rebound: later reads are of another value
        if not host_argument(facts, node):
            return False
        reads += 1
    return reads > 0


# methods whose result is on the receiver's device (dtype casts, layout, shape)
# fmt: off
_SAME_DEVICE_METHODS = frozenset(
    {"int", "long", "float", "double", "half", "bool", "short", "byte", "contiguous",
     "view", "reshape", "squeeze", "unsqueeze", "flatten", "clone", "detach", "t"}
)
# fmt: on


def _keeps_device_rebinding(node: cst.Assign, name: str) -> bool:
    """`name = name.int()` (a cast or reshape of itself, bound to the same name)."""
    if len(node.targets) != 1:
        return False
    target = node.targets[0].target
    value = node.value
    return (
        type(target) is cst.Name
        and target.value == name
        and type(value) is cst.Call
        and type(value.func) is cst.Attribute
        and type(value.func.value) is cst.Name
        and value.func.value.value == name
        and value.func.attr.value in _SAME_DEVICE_METHODS
    )
