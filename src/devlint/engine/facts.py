"""What the engine tells rules: the places where device-relevant things happen.

Each fact carries the syntax-tree node to report on and the abstract values involved, so
a rule decides *whether* to report and *how to word it* without re-deriving flow.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from enum import Enum
from typing import Optional

from devlint.engine.nodes import Source
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


@dataclass(frozen=True)
class Operand:
    text: str  # source text of the operand expression, for messages
    value: Value
    node: Optional[ast.AST] = None


@dataclass(frozen=True)
class Mismatch:
    """Two operands on different devices meet at `node`."""

    node: ast.AST
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
    loop_first: Optional[ast.AST] = None
    # for a batch element: the device variables its siblings were moved with
    sibling_devices: tuple[str, ...] = ()


@dataclass(frozen=True)
class DiscardedMove:
    node: ast.AST  # the expression statement
    call: ast.Call  # the discarded `x.to(...)` call
    call_text: str  # `x.to(device)`
    receiver_text: str
    receiver: Value
    is_loop_target: bool
    is_attribute: bool


@dataclass(frozen=True)
class NumpyCall:
    node: ast.AST
    receiver_text: str
    receiver: Value
    needs_detach: bool  # the tensor may require grad (model output, parameter)


@dataclass(frozen=True)
class LoadCall:
    node: ast.AST
    call_text: str
    device_name: Optional[str]  # a device variable in scope, for the help text


@dataclass(frozen=True)
class HardcodedDevice:
    node: ast.AST
    literal: str  # 'cuda', 'cuda:0', '.cuda()'
    form: str  # 'literal' | 'cuda_call' | 'default'
    in_tensor_function: bool  # `.cuda()` inside a function that receives tensors
    call: Optional[ast.Call] = None  # the `.cuda()` call itself (form "cuda_call")


@dataclass
class FileFacts:
    module: Optional[ast.Module] = None
    source: Optional[Source] = None
    mismatches: list[Mismatch] = field(default_factory=list)
    discarded_moves: list[DiscardedMove] = field(default_factory=list)
    numpy_calls: list[NumpyCall] = field(default_factory=list)
    loads: list[LoadCall] = field(default_factory=list)
    hardcoded: list[HardcodedDevice] = field(default_factory=list)
    # `self.x = value` statements by the id of their `self.x` target (for the DL006 fix)
    assignments: dict[int, ast.Assign] = field(default_factory=dict)
    bindings: Optional[object] = None  # rules._scope.Bindings, built when a fix needs it

    # one-line source text by node id: loop bodies are walked several times, and each
    # walk asks again for the text of the same nodes (each time a slice, split and join)
    _texts: dict[int, str] = field(default_factory=dict, repr=False)

    def text(self, node: ast.AST, limit: int = 60) -> str:
        """Source text of a node on one line, shortened for messages."""
        if self.source is None:
            return "..."
        code = self._texts.get(id(node))
        if code is None:
            code = self._texts[id(node)] = " ".join(self.source.segment(node).split())
        return code if len(code) <= limit else code[: limit - 3] + "..."
