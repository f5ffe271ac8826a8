"""Moves: `.to()`, `.cuda()`, `.cpu()`. Modules (and project classes with their own `to`)
move in place; tensors return a moved copy, so a bare `x.to(device)` statement is a
discarded move (DL004)."""

from __future__ import annotations

from dataclasses import replace
from typing import Optional

import libcst as cst

from devlint.engine import names as N
from devlint.engine.facts import (
    DiscardedMove,
    HardcodedDevice,
)
from devlint.engine.scope import (
    Scope,
    batch_owner,
)
from devlint.engine.values import (
    DEV_CPU,
    GRAFT,
    MOVED,
    Device,
    Kind,
    Origin,
    Value,
    is_placed,
    is_weak,
    move_container,
    sym,
    tensor,
)


class MovesMixin:
    """`Analyzer` methods that evaluate moves."""

    # ------------------------------------------------------------------ moves
    def eval_move(self, node: cst.Call, scope: Scope, statement: Optional[cst.CSTNode]) -> Value:
        func = node.func
        assert isinstance(func, cst.Attribute)
        method = func.attr.value
        receiver = self.eval(func.value, scope)
        target: Device
        if method == "cpu":
            self.eval_args(node, scope)
            target = DEV_CPU
        elif method == "cuda":
            pos = self.positional(node)
            dev_kw = self.keyword(node, "device")
            arg = dev_kw.value if dev_kw is not None else (pos[0].value if pos else None)
            if arg is None or (isinstance(arg, cst.Name) and arg.value in ("True", "False")):
                receiver_text = self.facts.text(func.value, 1000)
                call_text = f"{receiver_text}.cuda()" if len(receiver_text) <= 30 else ".cuda()"
                if arg is None and scope.follows:
                    self.follow_tested_device(node, scope)
                self.add_hardcoded(func.attr, call_text, "cuda_call", scope, node)
                self.requires_accelerator_here(node, scope)
                target = frozenset({"cuda"})
                if arg is not None:
                    self.eval(arg, scope)
            else:
                v = self.eval(arg, scope)
                target = v.device if v.kind is Kind.DEVICE else sym(N.dotted(arg) or "cuda:?")
                if isinstance(arg, cst.Integer):
                    target = frozenset({f"cuda:{arg.value}"})
            for a in node.args:
                if a.value is not arg:
                    self.eval(a.value, scope)
        else:
            target = self.move_target(node, scope)
        if target is None:  # dtype-only `.to(torch.float16)`
            if receiver.kind is Kind.TENSOR:
                return replace(receiver, requires_grad=receiver.requires_grad)
            return receiver
        return self.apply_move(node, func.value, receiver, target, scope, statement)

    def move_target(self, node: cst.Call, scope: Scope) -> Optional[Device]:
        """Where `.to(...)` sends its receiver; None when it only changes dtype."""
        dev_kw = self.keyword(node, "device")
        pos = self.positional(node)
        for a in node.args:
            if a is not dev_kw and (not pos or a is not pos[0]):
                self.eval(a.value, scope)
        arg = dev_kw.value if dev_kw is not None else (pos[0].value if pos else None)
        if arg is None:
            return None
        if dev_kw is None:
            q = self.imports.qualify(arg)
            if (
                q is not None
                and q.startswith("torch.")
                and q.count(".") == 1
                and q[6:] not in ("device",)
            ):
                v = self.lookup(q, scope)
                if v is None:
                    return None  # torch.float16 and friends
            if N.dotted(arg) is not None and (N.dotted(arg) or "").endswith("dtype"):
                return None
        return self.device_of_arg(arg, scope)

    def follow_tested_device(self, node: cst.Call, scope: Scope) -> None:
        """A bare `.cuda()` under `if x.is_cuda:` in a public library function: meant to
        follow `x`, it moves to the current CUDA device instead (`cuda:0` unless the
        program selects another), so with `x` on another GPU the next operation mixes
        devices.  Guarded code is otherwise silent for DL002."""
        tested = scope.follows[-1]
        value = self.eval(tested, scope)
        if value.kind is not Kind.TENSOR or not scope.report:
            return
        if not self.open_contract(scope, value.device) or not self.once("follows", id(node)):
            return
        assert isinstance(node.func, cst.Attribute)
        self.facts.hardcoded.append(
            HardcodedDevice(node.func.attr, self.text(tested), "follows_cuda", True, node)
        )

    def apply_move(
        self,
        node: cst.Call,
        receiver_node: cst.BaseExpression,
        receiver: Value,
        target: Device,
        scope: Scope,
        statement: Optional[cst.CSTNode],
    ) -> Value:
        if is_placed(target) and not is_weak(target):
            self.placed_seen = True
        if receiver.origin is Origin.LOADER and receiver.site is not None and is_placed(target):
            self.moved_sites.add(id(receiver.site))
            if id(receiver.site) in self.heuristic_sites:
                self.moving_owners.add(batch_owner(scope))
        key = N.dotted(receiver_node)
        kind = receiver.kind
        if kind is Kind.MODULE or (
            receiver.type_name
            and receiver.type_name in self.classes
            and self.classes[receiver.type_name].defines_to
        ):
            moved = replace(receiver, device=target)
            if receiver.via.startswith(GRAFT):
                moved = replace(moved, via="", site=None)  # moved again, new layers too
            self.move_in_place(receiver, key, moved, scope)
            return moved
        if kind is Kind.TENSOR:
            if statement is not None:
                if scope.report:
                    loop_targets = (
                        frozenset().union(*(lp.targets for lp in scope.loops))
                        if scope.loops
                        else frozenset()
                    )
                    if self.once("discarded", id(statement)):
                        self.facts.discarded_moves.append(
                            DiscardedMove(
                                statement,
                                node,
                                self.text(node),
                                self.text(receiver_node),
                                receiver,
                                is_loop_target=(key or "") in loop_targets,
                                is_attribute=isinstance(
                                    receiver_node, (cst.Attribute, cst.Subscript)
                                ),
                            )
                        )
                if key is not None and (
                    key in scope.env or (scope.globals and key in scope.globals)
                ):
                    scope.env[key] = replace(receiver, origin=Origin.DISCARDED, site=statement)
                if type(receiver_node) is cst.Subscript and receiver.origin is Origin.LOADER:
                    # `x[name].to(device)` of a batch: where the batch meets the model
                    # is the discarded move's consequence (DL004), not a second finding
                    base = N.dotted(receiver_node.value)
                    if base is not None:
                        self.discarded_batches.add((id(scope.func), base))
                return receiver
            return tensor(target, scalar=receiver.scalar, requires_grad=receiver.requires_grad)
        if kind is Kind.BATCH:
            moved = move_container(receiver, target)
            if statement is not None and key is not None:
                # BatchEncoding-like in-place `.to()`: trust it
                scope.env[key] = moved
            return moved
        # unknown receiver: a statement `.to(device)` is the in-place idiom of modules
        moved = Value(Kind.UNKNOWN, target, type_name=MOVED, oid=receiver.oid)
        if statement is not None and key is not None:
            scope.env[key] = moved
        return moved

    def move_in_place(
        self, receiver: Value, key: Optional[str], moved: Value, scope: Scope
    ) -> None:
        if key is not None:
            scope.env[key] = moved
        if receiver.oid:
            for env in (scope.env,):
                for k, v in list(env.items()):
                    if v.oid == receiver.oid and v.kind is receiver.kind:
                        env[k] = replace(v, device=moved.device)
            if scope.globals is not None:
                for k, v in list(scope.globals.items()):
                    if v.oid == receiver.oid and k not in scope.env and v.kind is receiver.kind:
                        scope.env[k] = replace(v, device=moved.device)
