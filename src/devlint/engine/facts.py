"""What the engine tells rules: the places where device-relevant things happen.

Each fact carries the LibCST node to report on and the abstract values involved, so
a rule decides *whether* to report and *how to word it* without re-deriving flow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Optional

import libcst as cst

from devlint.engine.values import Value


class Cause(Enum):
    """Why an operand sits on the wrong device: decides which single rule reports it."""

    BATCH = "batch"  # a batch element from a loader that was not moved (DL003)
    FACTORY = "factory"  # a tensor factory called without device= (DL005)
    PLAIN_ATTR = "plain_attr"  # a tensor stored as a plain attribute in __init__ (DL006)
    DISCARDED_MOVE = "discarded_move"  # its move was discarded (DL004 reports the statement)
    OTHER = "other"  # anything else (DL001 at module calls, DL009 elsewhere)


class Context(Enum):
    MODULE_CALL = "module_call"  # model(x), criterion(out, y)
    LOSS_WEIGHT = "loss_weight"  # weight=/pos_weight= of a loss, functional or module
    OPERATION = "operation"  # torch.cat, arithmetic, index_select, ...
    # an argument PyTorch reads on the host (`pack_padded_sequence`'s lengths) given on
    # an accelerator: the culprit is that argument, the partner the data it goes with
    HOST_ARGUMENT = "host_argument"
    # a function returns a CPU factory's tensor on one path and a tensor on its input's
    # (or its module's) device on another: the culprit is that factory, the partner the
    # other path's result, `node` the culprit's `return`
    RETURN = "return"


@dataclass(frozen=True)
class Operand:
    text: str  # source text of the operand expression, for messages
    value: Value
    node: Optional[cst.CSTNode] = None


@dataclass(frozen=True)
class Mismatch:
    """Two operands on different devices meet at `node`."""

    node: cst.CSTNode
    context: Context
    op_text: str  # `model(images)`, `torch.cat`, `+`
    culprit: Operand  # the operand on the wrong (usually CPU) side
    partner: Operand  # the operand on the device the operation follows
    cause: Cause
    certain: bool = True  # False: only on some paths (moved on one branch only)
    module_text: Optional[str] = None  # for MODULE_CALL: the callee's text
    # the culprit was created in the scope where it meets its partner (so a fix at its
    # creation site may name the partner)
    same_scope: bool = False
    # inside a batch loop: the loop's targets and its first statement (for the DL003 fix)
    loop_targets: frozenset[str] = frozenset()
    loop_first: Optional[cst.CSTNode] = None
    # for a batch element: the device variables its siblings were moved with
    sibling_devices: tuple[str, ...] = ()
    # the library contract that makes a parameter's device count (`open_contract`), or ""
    contract: str = ""
    # where they meet when that is a function the culprit was passed to (`helper`), or ""
    callee: str = ""
    # a new CPU layer set on a module after the module was moved (`model.head`), or "":
    # the culprit is that assignment's target, the partner the module's input
    grafted: str = ""


@dataclass(frozen=True)
class DiscardedMove:
    node: cst.CSTNode  # the expression statement
    call: cst.Call  # the discarded `x.to(...)` call
    call_text: str  # `x.to(device)`
    receiver_text: str
    receiver: Value
    is_loop_target: bool
    is_attribute: bool


@dataclass(frozen=True)
class NumpyCall:
    node: cst.CSTNode
    receiver_text: str
    receiver: Value
    needs_detach: bool  # the tensor may require grad (model output, parameter)
    # the library contract that makes a parameter's device count (`open_contract`), or ""
    contract: str = ""
    # a NumPy function handed the tensor (`np.asarray(x)`: NumPy asks the tensor for its
    # array, which is `.numpy()`): the function's text and the argument; None for
    # `x.numpy()` itself
    numpy_function: str = ""
    argument: Optional[cst.BaseExpression] = None


@dataclass(frozen=True)
class LoadCall:
    node: cst.CSTNode
    call_text: str
    device_name: Optional[str]  # a device variable in scope, for the help text
    # the file it reads, when the code names it literally (`engine.file_paths`)
    asset: Optional[tuple[str, str]] = None


@dataclass(frozen=True)
class LegacyDevice:
    """A legacy constructor given an accelerator (`torch.FloatTensor(data, device=d)`):
    the constructor only makes CPU tensors and raises for any other device."""

    node: cst.Call
    device_text: str  # the `device=` argument, as written


@dataclass(frozen=True)
class HardcodedDevice:
    node: cst.CSTNode
    literal: str  # 'cuda', 'cuda:0', '.cuda()'
    form: str  # 'literal' | 'cuda_call' | 'cuda_constructor' | 'default' | ...
    in_tensor_function: bool  # `.cuda()` inside a function that receives tensors
    call: Optional[cst.Call] = None  # the `.cuda()` call itself (form "cuda_call")


@dataclass
class FileFacts:
    module: Optional[cst.Module] = None
    source: str = ""  # the file's text
    mismatches: list[Mismatch] = field(default_factory=list)
    discarded_moves: list[DiscardedMove] = field(default_factory=list)
    numpy_calls: list[NumpyCall] = field(default_factory=list)
    loads: list[LoadCall] = field(default_factory=list)
    hardcoded: list[HardcodedDevice] = field(default_factory=list)
    legacy_devices: list[LegacyDevice] = field(default_factory=list)
    # `self.x = value` statements by the id of their `self.x` target (for the DL006 fix)
    assignments: dict[int, cst.Assign] = field(default_factory=dict)
    bindings: Optional[object] = None  # rules._scope.Bindings, built when a fix needs it
    # what importers learn from this module (`engine.summary`), and the imported names
    # whose facts from other modules the analysis asked for
    summary: Optional[dict] = None
    asked: frozenset[str] = frozenset()

    # one-line source text by node id: loop bodies are walked several times, and each
    # walk asks again for the text of the same nodes (generating code is not cheap)
    _texts: dict[int, str] = field(default_factory=dict, repr=False)

    def text(self, node: cst.CSTNode, limit: int = 60) -> str:
        """Source text of a node on one line, shortened for messages.  Parentheses around
        the node are left out, except those of a tuple or a generator expression, which
        read as part of it."""
        if self.module is None:
            return "..."
        text = self._texts.get(id(node))
        if text is None:
            if type(node) in (cst.Tuple, cst.GeneratorExp):
                raw = self.module.code_for_node(node)
            else:
                raw = self.code(node)
            text = self._texts[id(node)] = one_line(raw)
        return text if len(text) <= limit else text[: limit - 3] + "..."

    def code(self, node: cst.CSTNode) -> str:
        """The exact source of a node without the parentheses around it: the span its
        position covers (LibCST's syntactic position), which is what a fix replaces."""
        assert self.module is not None
        return code_without_parentheses(self.module, node)


# string literals (kept as written) and the gaps a line break leaves inside brackets
_STRING_RE = re.compile(
    r"""[rRbBuUfF]{0,2}('\'\'[\s\S]*?'\'\'|\"\"\"[\s\S]*?\"\"\"|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*")"""
)
_AFTER_OPEN = re.compile(r"([(\[{]) ")
_BEFORE_CLOSE = re.compile(r" ([)\]}])")
_TRAILING_COMMA = re.compile(r", ([)\]}])")


def one_line(code: str) -> str:
    """Source text on one line, for messages: whitespace runs become one space, and the
    spaces and trailing comma a line break left inside brackets go (`torch.randn(\n 8,\n
    16,\n)` reads `torch.randn(8, 16)`); string literals keep their text."""
    parts = []
    last = 0
    for m in _STRING_RE.finditer(code):
        parts.append(_tidy(code[last : m.start()]))
        parts.append(m.group())
        last = m.end()
    parts.append(_tidy(code[last:]))
    return "".join(parts).strip()


def _tidy(code: str) -> str:
    text = " ".join(code.split())
    if code[:1].isspace() and text:
        text = " " + text
    if code[-1:].isspace() and text:
        text += " "
    text = _TRAILING_COMMA.sub(r"\1", text)
    text = _AFTER_OPEN.sub(r"\1", text)
    return _BEFORE_CLOSE.sub(r"\1", text)


def code_without_parentheses(module: cst.Module, node: cst.CSTNode) -> str:
    """`module.code_for_node(node)` less the node's own parentheses and the whitespace
    inside them."""
    code = module.code_for_node(node)
    lpar = getattr(node, "lpar", ())
    if not lpar:
        return code
    start = sum(len(module.code_for_node(p)) for p in lpar)
    end = sum(len(module.code_for_node(p)) for p in node.rpar)  # type: ignore[attr-defined]
    return code[start : len(code) - end]
