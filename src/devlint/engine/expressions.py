"""Evaluating expressions: names, attributes, subscripts, containers, operators, and
the places where operands on different devices meet."""

from __future__ import annotations

import ast
from dataclasses import replace
from typing import Optional, Sequence

from devlint.engine import names as N
from devlint.engine.facts import (
    Cause,
    Context,
    Mismatch,
    Operand,
)
from devlint.engine.nodes import BINARY_OPERATORS, is_constant, unstarred
from devlint.engine.scope import (
    ENCODING,
    HEURISTIC_LOADER,
    LAYER_PARAMETER,
    Scope,
)
from devlint.engine.syntax import (
    is_device_expr,
    subscript_key,
)
from devlint.engine.values import (
    ANY,
    DEV_CPU,
    DEV_UNKNOWN,
    NUMBER,
    OTHER,
    UNKNOWN,
    Kind,
    Origin,
    Value,
    common_origin,
    container_device,
    is_cpu,
    is_known,
    is_placed,
    is_weak,
    join_values,
    partly_cpu,
    sym,
    tensor,
)
from devlint.engine.walk import iter_children

# the text of a comparison operator, for messages
_COMPARISON_OPERATORS: dict[type, str] = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.In: "in",
    ast.NotIn: "not in",
}


class ExpressionsMixin:
    """`Analyzer` methods that evaluate expressions (no calls)."""

    # ------------------------------------------------------------------ expressions
    def eval(self, node: Optional[ast.expr], scope: Scope) -> Value:
        if node is None:
            return UNKNOWN
        method = getattr(self, "eval_" + type(node).__name__, None)
        if method is None:
            for child in iter_children(node):
                if isinstance(child, ast.expr):
                    self.eval(child, scope)
            return UNKNOWN
        return method(node, scope)

    def sibling_devices(self, scope: Scope) -> tuple[str, ...]:
        """The device variables that the other elements of the current batch were moved
        with (`device` in `x = x.to(device)`): where a fix can send the one left behind
        when the model it meets came in as a parameter."""
        found: list[str] = []
        for name in sorted(scope.loops[-1].targets):
            value = self.lookup(name, scope)
            if value is None or value.kind is not Kind.TENSOR or len(value.device) != 1:
                continue
            (atom,) = value.device
            if atom.startswith("sym:") and not atom.startswith(
                ("sym:param:", "sym:self", "sym:auto")
            ):
                found.append(atom[4:])
        return tuple(dict.fromkeys(found))

    def lookup(self, key: str, scope: Scope) -> Optional[Value]:
        if key in scope.env:
            return scope.env[key]
        if scope.globals is not None and key in scope.globals:
            return scope.globals[key]
        return None

    def eval_Name(self, node: ast.Name, scope: Scope) -> Value:
        found = self.lookup(node.id, scope)
        if found is not None:
            return found
        name = node.id
        # (`True`, `False` and `None` are constants: see `eval_Constant`)
        if self.is_device_name(name):
            return Value(Kind.DEVICE, sym(name))
        if N.is_loader_name(name):
            return self.default_loader()
        return UNKNOWN

    def default_loader(self, heuristic: bool = True) -> Value:
        """A loader of CPU batches.  `heuristic`: known only by its name (`train_loader`
        parameter): it may be a prefetcher or a distributed loader that yields device
        batches, so its batches count as CPU only where the loop moves some of them."""
        if self.collate_moves:
            # a collate function of this file moves batches: loaders may yield device tensors
            return Value(Kind.LOADER, DEV_UNKNOWN, elem=UNKNOWN)
        return Value(
            Kind.LOADER,
            DEV_CPU,
            elem=Value(Kind.BATCH, DEV_CPU, Origin.LOADER),
            type_name=HEURISTIC_LOADER if heuristic else "",
        )

    def eval_Constant(self, node: ast.Constant, scope: Scope) -> Value:
        """Numbers, `True`, `False`, `None` and strings other than device strings are
        plain values; `...` is unknown."""
        value = node.value
        if type(value) is str:
            return self._string(node)
        if value is Ellipsis:
            return UNKNOWN
        if type(value) in (int, float):
            return NUMBER
        return OTHER

    def _string(self, node: ast.Constant) -> Value:
        """Device strings are device values (`device = "cpu"`); other strings are not."""
        s = N.string_value(node)
        if s == "cpu":
            return Value(Kind.DEVICE, DEV_CPU)
        lit = N.accelerator_literal(node)
        if lit is not None:
            return Value(Kind.DEVICE, frozenset({lit}))
        return OTHER

    def eval_JoinedStr(self, node: ast.JoinedStr, scope: Scope) -> Value:
        for part in node.values:
            if type(part) is ast.FormattedValue:
                self.eval(part.value, scope)
        return OTHER

    def eval_Attribute(self, node: ast.Attribute, scope: Scope) -> Value:
        key = N.dotted(node)
        if key is not None:
            found = self.lookup(key, scope)
            if found is not None:
                return found
        attr = node.attr
        q = self.imports.qualify(node) if key is not None else None
        if q is not None and q.startswith("torch.") and q.count(".") == 1 and attr in N.DTYPE_NAMES:
            return OTHER
        base = self.eval(node.value, scope)
        if attr == "device":
            if (
                base.kind in (Kind.TENSOR, Kind.MODULE, Kind.BATCH)
                and is_known(base.device)
                and ANY not in base.device
            ):
                return Value(Kind.DEVICE, base.device)
            if key is not None:
                return Value(Kind.DEVICE, sym(key))
            return Value(Kind.DEVICE, DEV_UNKNOWN)
        if key is not None and self.is_device_name(attr):
            return Value(Kind.DEVICE, sym(key))
        if base.kind is Kind.TENSOR:
            if attr in N.TENSOR_ATTRIBUTES_SAME_DEVICE:
                return base
            if attr in N.NON_TENSOR_ATTRIBUTES:
                return OTHER
            if base.origin is Origin.MODEL_OUTPUT:
                return replace(base, scalar=None)
            return UNKNOWN
        if base.kind is Kind.MODULE:
            if attr in ("weight", "bias"):
                return tensor(
                    base.device, scalar=False, requires_grad=True, type_name=LAYER_PARAMETER
                )
            return UNKNOWN
        if base.kind is Kind.BATCH and base.origin is Origin.LOADER and base.entries is None:
            return tensor(
                base.device,
                origin=base.origin,
                site=base.site,
                # batch elements are batched: never 0-dim
                scalar=False if base.origin is Origin.LOADER else None,
            )
        if key is not None and N.is_loader_name(attr):
            return self.default_loader()
        return UNKNOWN

    def _subscript_elements(self, node: ast.Subscript) -> list[ast.expr]:
        """The indices of a subscript (an expression or an `ast.Slice` each): `a[i, j]` and
        `a[(i, j)]` (the same to Python) have two, `a[()]` one (an empty tuple); `a[*b]`
        has `b`."""
        s = node.slice
        if type(s) is not ast.Tuple or not s.elts:
            return [s]
        return [unstarred(e) for e in s.elts]

    def eval_Subscript(self, node: ast.Subscript, scope: Scope) -> Value:
        base = self.eval(node.value, scope)
        elements = self._subscript_elements(node)
        indices = []
        for el in elements:
            if type(el) is not ast.Slice:
                indices.append((el, self.eval(el, scope)))
            else:
                for part in (el.lower, el.upper, el.step):
                    if part is not None:
                        self.eval(part, scope)
        if base.kind is Kind.TENSOR:
            for idx_node, idx in indices:
                if (
                    idx.kind is Kind.TENSOR
                    and is_cpu(base.device)
                    and is_placed(idx.device)
                    and idx.scalar is False
                ):
                    self.record(
                        node,
                        Context.OPERATION,
                        "indexing",
                        (node.value, base),
                        (idx_node, idx),
                        scope,
                    )
            only_slices = all(type(el) is ast.Slice for el in elements)
            return replace(base, scalar=base.scalar if only_slices else None)
        if base.kind is Kind.BATCH:
            key = subscript_key(node)
            if base.entries is not None and key is not None:
                for k, v in base.entries:
                    if k == key:
                        return v
            if base.elems is not None and len(indices) == 1:
                idx_node = indices[0][0]
                if is_constant(idx_node, int):
                    i = idx_node.value
                    if 0 <= i < len(base.elems):
                        return base.elems[i]
                elif type(idx_node) is ast.UnaryOp and is_constant(idx_node.operand, int):
                    i = -idx_node.operand.value
                    if -len(base.elems) <= i < 0:
                        return base.elems[i]
            if base.elem is not None:
                return base.elem
            if (
                base.entries is None
                and base.elems is None
                and is_known(base.device)
                and (
                    base.origin is Origin.LOADER
                    or base.type_name == ENCODING
                    or not is_cpu(base.device)
                )
            ):
                # an element of a batch or of a model's output: a tensor (a CPU container
                # the analysis lost track of, a dict of modules filled in a loop, say,
                # may hold anything)
                return tensor(
                    base.device,
                    origin=base.origin,
                    site=base.site,
                    # batch elements are batched: never 0-dim
                    scalar=False if base.origin is Origin.LOADER else None,
                )
            return UNKNOWN
        if base.kind is Kind.MODULE:
            return Value(Kind.MODULE, base.device)
        if base.kind is Kind.LOADER and base.elem is not None:
            return base.elem
        return UNKNOWN

    def eval_Tuple(self, node: ast.Tuple, scope: Scope) -> Value:
        return self._sequence(node.elts, scope)

    def eval_List(self, node: ast.List, scope: Scope) -> Value:
        return self._sequence(node.elts, scope)

    def eval_Set(self, node: ast.Set, scope: Scope) -> Value:
        # the items are evaluated (they may meet other devices); the set itself is unknown
        for el in node.elts:
            self.eval(unstarred(el), scope)
        return UNKNOWN

    def eval_YieldFrom(self, node: ast.YieldFrom, scope: Scope) -> Value:
        self.eval(node.value, scope)
        return UNKNOWN

    def _sequence(self, elements: Sequence[ast.expr], scope: Scope) -> Value:
        values = []
        for el in elements:
            starred = type(el) is ast.Starred
            v = self.eval(unstarred(el), scope)
            values.append(UNKNOWN if starred else v)
        if any(type(el) is ast.Starred for el in elements):
            return Value(Kind.BATCH, DEV_UNKNOWN)
        return Value(
            Kind.BATCH,
            container_device(values),
            elems=tuple(values),
            origin=common_origin(values),
        )

    def eval_Dict(self, node: ast.Dict, scope: Scope) -> Value:
        entries = []
        ok = True
        for key, value in zip(node.keys, node.values):
            if key is not None:
                v = self.eval(value, scope)
                k = N.string_value(key)
                if k is None:
                    ok = False
                else:
                    entries.append((k, v))
            else:
                # `**value`
                self.eval(value, scope)
                ok = False
        if not ok:
            return Value(Kind.BATCH, DEV_UNKNOWN)
        return Value(Kind.BATCH, container_device([v for _, v in entries]), entries=tuple(entries))

    def _comprehension(
        self, node: ast.AST, scope: Scope, elt_nodes: Sequence[ast.expr]
    ) -> list[Value]:
        saved = dict(scope.env)
        for comp in node.generators:  # type: ignore[attr-defined]
            it = self.eval(comp.iter, scope)
            self.bind(comp.target, self.element_of(it, comp.iter, scope), scope)
            for cond in comp.ifs:
                self.eval(cond, scope)
        values = [self.eval(e, scope) for e in elt_nodes]
        scope.env = saved
        return values

    def eval_ListComp(self, node: ast.ListComp, scope: Scope) -> Value:
        (v,) = self._comprehension(node, scope, [node.elt])
        return Value(
            Kind.BATCH,
            v.device if v.kind is Kind.TENSOR else DEV_UNKNOWN,
            elem=v,
            origin=v.origin if v.origin is Origin.LOADER else Origin.NONE,
        )

    eval_GeneratorExp = eval_ListComp
    eval_SetComp = eval_ListComp

    def eval_DictComp(self, node: ast.DictComp, scope: Scope) -> Value:
        _, v = self._comprehension(node, scope, [node.key, node.value])
        return Value(
            Kind.BATCH,
            v.device if v.kind is Kind.TENSOR else DEV_UNKNOWN,
            elem=v,
            entries=None,
            origin=v.origin if v.origin is Origin.LOADER else Origin.NONE,
        )

    def eval_IfExp(self, node: ast.IfExp, scope: Scope) -> Value:
        self.eval(node.test, scope)
        device_test = self.is_device_condition(node.test)
        if device_test:
            scope.guard += 1
        a = self.eval(node.body, scope)
        b = self.eval(node.orelse, scope)
        if device_test:
            scope.guard -= 1
            # `torch.device("cuda" if torch.cuda.is_available() else "cpu")`
            if is_device_expr(node.body, a) and is_device_expr(node.orelse, b):
                return Value(Kind.DEVICE, sym("auto"))
            return self.join_guarded(a, b)
        return join_values(a, b)

    def eval_NamedExpr(self, node: ast.NamedExpr, scope: Scope) -> Value:
        v = self.eval(node.value, scope)
        self.bind(node.target, v, scope)
        return v

    def eval_Await(self, node: ast.Await, scope: Scope) -> Value:
        return self.eval(node.value, scope)

    def eval_Lambda(self, node: ast.Lambda, scope: Scope) -> Value:
        return UNKNOWN

    def eval_UnaryOp(self, node: ast.UnaryOp, scope: Scope) -> Value:
        v = self.eval(node.operand, scope)
        if type(node.op) is ast.Not:
            return OTHER
        return v

    def eval_BoolOp(self, node: ast.BoolOp, scope: Scope) -> Value:
        # `a or b or c` is one node: fold its operands left to right
        a = self.eval(node.values[0], scope)
        for operand in node.values[1:]:
            b = self.eval(operand, scope)
            a = join_values(a, b) if a.kind is b.kind else UNKNOWN
        return a

    def eval_BinOp(self, node: ast.BinOp, scope: Scope) -> Value:
        left = self.eval(node.left, scope)
        right = self.eval(node.right, scope)
        return self.combine(
            node,
            [(node.left, left), (node.right, right)],
            scope,
            op_text=BINARY_OPERATORS[type(node.op)],
        )

    def eval_Compare(self, node: ast.Compare, scope: Scope) -> Value:
        operands = [(node.left, self.eval(node.left, scope))]
        for comparator in node.comparators:
            operands.append((comparator, self.eval(comparator, scope)))
        if any(type(op) in (ast.In, ast.NotIn, ast.Is, ast.IsNot) for op in node.ops):
            return OTHER
        op = _COMPARISON_OPERATORS[type(node.ops[0])]
        result = self.combine(node, operands, scope, op_text=op)
        return result if result.kind is Kind.TENSOR else OTHER

    # ------------------------------------------------------------------ combining
    def combine(
        self,
        node: ast.AST,
        operands: list[tuple[ast.AST, Value]],
        scope: Scope,
        op_text: str,
        context: Context = Context.OPERATION,
    ) -> Value:
        """Operands that must share a device meet at `node`; returns the result value."""
        tensors = [(n, v) for n, v in operands if v.kind is Kind.TENSOR]
        if not tensors:
            kinds = {v.kind for _, v in operands}
            if kinds <= {Kind.OTHER}:
                return OTHER
            return UNKNOWN
        self.check_operands(node, tensors, scope, op_text, context)
        placed = [v for _, v in tensors if is_placed(v.device)]
        base = placed[0] if placed else tensors[0][1]
        scalars = [v.scalar for _, v in tensors]
        scalar = (
            True
            if all(s is True for s in scalars)
            else (False if any(s is False for s in scalars) else None)
        )
        origin, site = base.origin, base.site
        if not placed:
            # keep why a CPU result is on the CPU (factory, batch, ...): the operand that
            # certainly has dimensions first, since a 0-dim one mixes with anything
            for _, v in sorted(tensors, key=lambda nv: nv[1].scalar is not False):
                if v.origin is not Origin.NONE and v.scalar is not True:
                    origin, site = v.origin, v.site
                    break
        return tensor(
            base.device,
            origin=origin if origin is not Origin.PARAM else Origin.NONE,
            site=site,
            scalar=scalar,
            requires_grad=any(v.requires_grad for _, v in tensors),
        )

    def check_operands(
        self,
        node: ast.AST,
        tensors: list[tuple[ast.AST, Value]],
        scope: Scope,
        op_text: str,
        context: Context,
    ) -> None:
        placed = [(n, v) for n, v in tensors if is_placed(v.device)]
        if not placed:
            return
        # the strongest partner: a real device rather than a parameter's
        placed.sort(key=lambda nv: is_weak(nv[1].device))
        partner = placed[0]
        for n, v in tensors:
            if v.scalar is not False:
                continue  # 0-dim CPU tensors mix with anything; unknown rank: stay silent
            if is_cpu(v.device) or (partly_cpu(v.device) and v.origin is Origin.LOADER):
                self.record(node, context, op_text, (n, v), partner, scope)

    def record(
        self,
        node: ast.AST,
        context: Context,
        op_text: str,
        culprit: tuple[ast.AST, Value],
        partner: tuple[ast.AST, Value],
        scope: Scope,
        module_text: Optional[str] = None,
    ) -> None:
        """Classify a mismatch by its root cause and record it once."""
        if not scope.report:
            return
        cnode, cval = culprit
        pnode, pval = partner
        certain = is_cpu(cval.device)
        origin = cval.origin
        if origin is Origin.DISCARDED:
            return  # DL004 reports the discarded statement
        if context is Context.LOSS_WEIGHT and origin is not Origin.PLAIN_ATTR:
            cause = Cause.OTHER  # DL009 words it as a loss weight, whatever made it
        elif origin is Origin.FACTORY and cval.site is not None:
            cause = Cause.FACTORY
        elif origin is Origin.PLAIN_ATTR:
            cause = Cause.PLAIN_ATTR
        elif origin is Origin.LOADER and scope.loops:
            cause = Cause.BATCH
        else:
            cause = Cause.OTHER
        weak = is_weak(pval.device)
        needs_placement = weak and cause not in (Cause.FACTORY, Cause.PLAIN_ATTR)
        if (
            cause is Cause.FACTORY
            and weak
            and scope.func is not None
            and self.created_in.get(id(cval.site), 0) == id(None)
        ):
            # a module-level tensor (test data, a constant) meeting a parameter: which
            # device callers use is anyone's guess, and test modules do this on purpose
            return
        if (
            cause is Cause.OTHER
            and cval.kind is Kind.TENSOR
            and cval.origin is Origin.NONE
            and cval.site is None
            and weak
        ):
            return
        if not certain and cause is not Cause.BATCH:
            return
        if (
            cause is Cause.BATCH
            and id(cval.site) in self.heuristic_sites
            and id(cval.site) not in self.moved_sites
        ):
            return  # nothing shows this loader yields CPU batches
        key: tuple
        if cause is Cause.FACTORY:
            key = (cause, id(cval.site))
        elif cause is Cause.BATCH:
            key = (cause, self.text(cnode), id(cval.site))
        elif cause is Cause.PLAIN_ATTR:
            key = (cause, id(cval.site), id(scope.func))
        else:
            key = (cause, id(node), self.text(cnode))
        if key in self._seen:
            return
        self._seen.add(key)
        evidence = None
        if (
            cause is Cause.FACTORY
            and weak
            and scope.func is not None
            and len(pval.device) == 1
            # a script's functions are called only where we see; a library's public
            # functions by anyone
            and (self.is_program or scope.func.name.startswith("_"))
        ):
            (atom,) = pval.device
            if atom.startswith("sym:param:"):
                evidence = (-id(scope.func), atom[len("sym:param:") :])
        self.add_fact(
            self.facts.mismatches,
            Mismatch(
                node=node,
                context=context,
                op_text=op_text,
                culprit=Operand(self.text(cnode), cval, cnode),
                partner=Operand(self.text(pnode), pval, pnode),
                cause=cause,
                certain=certain,
                loop_targets=scope.loops[-1].targets if scope.loops else frozenset(),
                loop_first=scope.loops[-1].first if scope.loops else None,
                sibling_devices=self.sibling_devices(scope) if cause is Cause.BATCH else (),
                module_text=module_text,
                same_scope=cval.site is not None
                and self.created_in.get(id(cval.site)) == id(scope.func),
            ),
            needs_placement,
            evidence,
        )

    # ------------------------------------------------------------------ iteration
    def element_of(self, value: Value, node: ast.expr, scope: Scope) -> Value:
        if value.elem is not None:
            return value.elem
        if value.kind is Kind.LOADER:
            return Value(Kind.BATCH, value.device, Origin.LOADER)
        if value.kind is Kind.BATCH:
            if value.elems:
                out = value.elems[0]
                for e in value.elems[1:]:
                    out = join_values(out, e)
                return out
            if value.origin is Origin.LOADER and is_known(value.device):
                return tensor(value.device, origin=Origin.LOADER, site=value.site, scalar=False)
            return UNKNOWN
        if value.kind is Kind.TENSOR:
            return replace(value, scalar=None)
        return UNKNOWN
