"""Evaluating expressions: names, attributes, subscripts, containers, operators, and
the places where operands on different devices meet."""

from __future__ import annotations

from dataclasses import replace
from typing import Optional, Sequence

import libcst as cst

from devlint.engine import names as N
from devlint.engine.facts import (
    Cause,
    Context,
    Mismatch,
    Operand,
)
from devlint.engine.scope import (
    ENCODING,
    HEURISTIC_LOADER,
    LAYER_PARAMETER,
    MOVED_ELSEWHERE,
    ULTRA_PART,
    ULTRA_PARTS,
    ULTRA_RESULT,
    ULTRA_TENSORS,
    YOLOV5_RESULTS,
    YOLOV5_TENSOR_LISTS,
    Scope,
    batch_owner,
)
from devlint.engine.summary import held_arguments, imported_value
from devlint.engine.syntax import (
    all_params,
    flag_constant,
    has_param,
    is_device_expr,
    none_tested,
    same_device_pairs,
    subscript_key,
)
from devlint.engine.values import (
    ANY,
    DEV_CPU,
    DEV_UNKNOWN,
    MODULE_STATE,
    MOVED,
    NO_CONST,
    NUMBER,
    OTHER,
    UNKNOWN,
    Kind,
    Origin,
    Value,
    common_origin,
    constant,
    container_device,
    is_cpu,
    is_default_fill,
    is_known,
    is_none,
    is_placed,
    is_weak,
    join_all,
    join_values,
    module_state_tensor,
    partly_cpu,
    sole_param,
    sym,
    tensor,
    truth,
)
from devlint.engine.walk import iter_children, walk


class ExpressionsMixin:
    """`Analyzer` methods that evaluate expressions (no calls)."""

    # ------------------------------------------------------------------ expressions
    def eval(self, node: Optional[cst.BaseExpression], scope: Scope) -> Value:
        if node is None:
            return UNKNOWN
        cls = type(node)
        method = _EVALS.get(cls, _MISSING)
        if method is _MISSING:
            method = _EVALS[cls] = getattr(type(self), "eval_" + cls.__name__, None)
        if method is None:
            for child in iter_children(node):
                if isinstance(child, cst.BaseExpression):
                    self.eval(child, scope)
            return UNKNOWN
        return method(self, node, scope)

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

    def eval_Name(self, node: cst.Name, scope: Scope) -> Value:
        found = scope.env.get(node.value)
        if found is not None:
            return found
        found = self.lookup(node.value, scope)
        if found is not None:
            # a module-level flag may be rebound (`global`, an importer setting it): its
            # constant decides nothing here
            return found if found.const is NO_CONST else replace(found, const=NO_CONST)
        name = node.value
        imported = self.imports.aliases.get(name)
        if imported is not None:
            fact = self.imported_fact(imported)
            if fact is not None and fact.get("t") == "constant":
                return imported_value(fact, 0)
        flag = flag_constant(node)
        if flag is not NO_CONST:
            return constant(flag)
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

    def eval_Integer(self, node: cst.Integer, scope: Scope) -> Value:
        """A Python int: `torch.tensor(3)` of it is a 0-dim tensor; its value may decide
        a branch (`if verbose == 0:`)."""
        try:
            return constant(int(node.value, 0))
        except ValueError:
            return NUMBER

    def eval_Float(self, node: cst.Float, scope: Scope) -> Value:
        """A Python float: `torch.tensor(0.5)` of it is a 0-dim tensor."""
        return NUMBER

    def eval_Imaginary(self, node: cst.CSTNode, scope: Scope) -> Value:
        return OTHER

    eval_ConcatenatedString = eval_Imaginary

    def eval_SimpleString(self, node: cst.SimpleString, scope: Scope) -> Value:
        """Device strings are device values (`device = "cpu"`); other strings are not."""
        s = N.string_value(node)
        if s == "cpu":
            return Value(Kind.DEVICE, DEV_CPU, const=s)
        lit = N.accelerator_literal(node)
        if lit is not None:
            return Value(Kind.DEVICE, frozenset({lit}), const=s)
        return OTHER if s is None else constant(s)

    def eval_FormattedString(self, node: cst.FormattedString, scope: Scope) -> Value:
        for part in node.parts:
            if isinstance(part, cst.FormattedStringExpression):
                self.eval(part.expression, scope)
        return OTHER

    def eval_Attribute(self, node: cst.Attribute, scope: Scope) -> Value:
        key = N.dotted(node)
        if key is not None:
            found = self.lookup(key, scope)
            if found is not None:
                return found
        attr = node.attr.value
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
            if is_known(base.device) and not attr.startswith("__"):
                return Value(Kind.UNKNOWN, base.device, type_name=MODULE_STATE)
            return UNKNOWN
        if base.type_name == YOLOV5_RESULTS and attr in YOLOV5_TENSOR_LISTS:
            return Value(Kind.BATCH, base.device, elem=tensor(base.device, scalar=False))
        if base.type_name == ULTRA_RESULT and attr in ULTRA_PARTS:
            return Value(Kind.UNKNOWN, base.device, type_name=ULTRA_PART)
        if base.type_name == ULTRA_PART and attr in ULTRA_TENSORS:
            return tensor(base.device, scalar=False)
        if base.type_name == MODULE_STATE and attr == "data":
            return module_state_tensor(base)
        if base.type_name == MOVED and attr in ("data", "grad", "T", "mT"):
            # `x.to(device).data`: a model has no `.data`, a tensor keeps its device
            return tensor(base.device, scalar=None)
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

    def eval_Subscript(self, node: cst.Subscript, scope: Scope) -> Value:
        base = self.eval(node.value, scope)
        indices = []
        for el in node.slice:
            if isinstance(el.slice, cst.Index):
                indices.append((el.slice.value, self.eval(el.slice.value, scope)))
            else:
                for part in (el.slice.lower, el.slice.upper, el.slice.step):
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
            # slices, `None` (a new axis) and `...` keep every dimension: a tensor that is
            # not 0-dim stays so; an integer or tensor index may drop one
            keeps_dims = all(
                not isinstance(el.slice, cst.Index) or _only_new_axes(el.slice.value)
                for el in node.slice
            )
            return replace(base, scalar=base.scalar if keeps_dims else None)
        if base.kind is Kind.BATCH:
            key = subscript_key(node)
            if base.entries is not None and key is not None:
                for k, v in base.entries:
                    if k == key:
                        return v
            if base.elems is not None and len(indices) == 1:
                idx_node = indices[0][0]
                if isinstance(idx_node, cst.Integer):
                    i = int(idx_node.value)
                    if 0 <= i < len(base.elems):
                        return base.elems[i]
                elif isinstance(idx_node, cst.UnaryOperation) and isinstance(
                    idx_node.expression, cst.Integer
                ):
                    i = -int(idx_node.expression.value)
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
        if base.type_name == MOVED and is_cpu(base.device):
            return base  # a slice of what `.cpu()` returned is on the host too
        if base.kind is Kind.LOADER and base.elem is not None:
            return base.elem
        return UNKNOWN

    def eval_Tuple(self, node: cst.Tuple, scope: Scope) -> Value:
        return self._sequence(node.elements, scope)

    def eval_List(self, node: cst.List, scope: Scope) -> Value:
        return self._sequence(node.elements, scope)

    def _sequence(self, elements: Sequence[cst.BaseElement], scope: Scope) -> Value:
        values = []
        for el in elements:
            v = self.eval(el.value, scope)
            values.append(UNKNOWN if isinstance(el, cst.StarredElement) else v)
        if any(isinstance(el, cst.StarredElement) for el in elements):
            return Value(Kind.BATCH, DEV_UNKNOWN)
        return Value(
            Kind.BATCH,
            container_device(values),
            elems=tuple(values),
            origin=common_origin(values),
        )

    def eval_Dict(self, node: cst.Dict, scope: Scope) -> Value:
        entries = []
        ok = True
        for el in node.elements:
            if isinstance(el, cst.DictElement):
                v = self.eval(el.value, scope)
                k = N.string_value(el.key)
                if k is None:
                    ok = False
                else:
                    entries.append((k, v))
            else:
                self.eval(el.value, scope)
                ok = False
        if not ok:
            return Value(Kind.BATCH, DEV_UNKNOWN)
        return Value(Kind.BATCH, container_device([v for _, v in entries]), entries=tuple(entries))

    def _comprehension(self, node: cst.CSTNode, scope: Scope) -> list[Value]:
        """The values of a comprehension's element expressions (key and value for a dict
        comprehension), evaluated in the comprehension's own scope, which the visitor
        opens (`visit_ListComp`) and closes (`leave_ListComp`)."""
        pushed = not self.scopes or self.scopes[-1] is not scope
        if pushed:
            self.scopes.append(scope)
        try:
            node.visit(self)
        finally:
            if pushed:
                self.scopes.pop()
        return self.comprehension_values.pop()

    def eval_ListComp(self, node: cst.ListComp, scope: Scope) -> Value:
        (v,) = self._comprehension(node, scope)
        return Value(
            Kind.BATCH,
            v.device if v.kind is Kind.TENSOR else DEV_UNKNOWN,
            elem=v,
            origin=v.origin if v.origin is Origin.LOADER else Origin.NONE,
        )

    eval_GeneratorExp = eval_ListComp
    eval_SetComp = eval_ListComp

    def eval_DictComp(self, node: cst.DictComp, scope: Scope) -> Value:
        _, v = self._comprehension(node, scope)
        return Value(
            Kind.BATCH,
            v.device if v.kind is Kind.TENSOR else DEV_UNKNOWN,
            elem=v,
            entries=None,
            origin=v.origin if v.origin is Origin.LOADER else Origin.NONE,
        )

    def eval_IfExp(self, node: cst.IfExp, scope: Scope) -> Value:
        test = self.eval(node.test, scope)
        device_test = self.is_device_condition(node.test)
        known = truth(test)
        if known is not None:
            # a test the arguments decide (`"cuda" if cuda else "cpu"` with `cuda=False`):
            # only the branch taken is evaluated
            if device_test:
                scope.guard += 1
            value = self.eval(node.body if known else node.orelse, scope)
            if device_test:
                scope.guard -= 1
            return value
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
        # `mask if mask is not None else torch.ones(n)`: the CPU tensor on the path of
        # every caller that omits `mask` (see `default_filled`)
        for given, kept, filled in (
            (none_tested(node.test, False), node.body, b),
            (none_tested(node.test, True), node.orelse, a),
        ):
            if (
                given is not None
                and type(kept) is cst.Name
                and kept.value == given
                and is_default_fill(filled)
            ):
                return self.filling(filled, given, scope)
        return join_values(a, b)

    def eval_NamedExpr(self, node: cst.NamedExpr, scope: Scope) -> Value:
        v = self.eval(node.value, scope)
        self.bind(node.target, v, scope)
        return v

    def eval_Await(self, node: cst.Await, scope: Scope) -> Value:
        return self.eval(node.expression, scope)

    def eval_Lambda(self, node: cst.Lambda, scope: Scope) -> Value:
        return UNKNOWN

    def eval_UnaryOperation(self, node: cst.UnaryOperation, scope: Scope) -> Value:
        v = self.eval(node.expression, scope)
        if isinstance(node.operator, cst.Not):
            known = truth(v)
            return OTHER if known is None else constant(not known)
        if isinstance(node.operator, cst.Minus) and isinstance(v.const, int):
            return replace(v, const=-v.const)
        return v

    def eval_BooleanOperation(self, node: cst.BooleanOperation, scope: Scope) -> Value:
        """`a and b`, `a or b`, short-circuited as Python does: when the left operand's
        truth is known the result is one operand (`device or "cpu"` with `device=None` is
        `"cpu"`), and a right operand that is never evaluated records nothing.  The right
        operand runs where the left one decided to go on: after `a.device == b.device and`
        (or `a.device != b.device or`) the two tensors share a device."""
        a = self.eval(node.left, scope)
        is_and = isinstance(node.operator, cst.And)
        known = truth(a)
        if known is not None and known is not is_and:
            return a  # `False and ...`, `True or ...`: the right operand never runs
        refined = self.refine_same_device(node.left, is_and, scope)
        b = self.eval(node.right, scope)
        self.unrefine(scope, refined)
        if known is not None:
            return b  # `True and b`, `False or b`: b
        return join_values(a, b) if a.kind is b.kind else UNKNOWN

    def eval_BinaryOperation(self, node: cst.BinaryOperation, scope: Scope) -> Value:
        left = self.eval(node.left, scope)
        right = self.eval(node.right, scope)
        return self.combine(
            node,
            [(node.left, left), (node.right, right)],
            scope,
            op_text=self.text(node.operator).strip(),
        )

    def eval_Comparison(self, node: cst.Comparison, scope: Scope) -> Value:
        operands = [(node.left, self.eval(node.left, scope))]
        for target in node.comparisons:
            operands.append((target.comparator, self.eval(target.comparator, scope)))
        if len(node.comparisons) == 1:
            folded = fold_comparison(node.comparisons[0].operator, operands[0][1], operands[1][1])
            if folded is not None:
                return constant(folded)
        if any(
            isinstance(t.operator, (cst.In, cst.NotIn, cst.Is, cst.IsNot)) for t in node.comparisons
        ):
            return OTHER
        op = self.text(node.comparisons[0].operator).strip()
        result = self.combine(node, operands, scope, op_text=op)
        return result if result.kind is Kind.TENSOR else OTHER

    def refine_same_device(
        self, test: cst.BaseExpression, holds: bool, scope: Scope
    ) -> dict[str, tuple[Value, Value]]:
        """Where `test` is `holds`, the tensors an explicit device check compares
        (`a.device == b.device`, `not a.device != b.device`, conjuncts of a true `and`,
        disjuncts of a false `or`) share a device.  A plain tensor attribute's CPU device
        is only where `__init__` left it (a cache is overwritten by inputs between calls):
        checked against another tensor, it is on that tensor's device.  Otherwise a side
        certainly on the CPU (`out = values.cpu()`) says the other is on the CPU too.
        Returns key -> (value before, refined value)."""
        refined: dict[str, tuple[Value, Value]] = {}
        for left, right in same_device_pairs(test, holds):
            a, b = self.lookup(left, scope), self.lookup(right, scope)
            if a is None or b is None or a.kind is not Kind.TENSOR or b.kind is not Kind.TENSOR:
                continue
            for key, value, other in ((left, a, b), (right, b, a)):
                if value.origin is Origin.PLAIN_ATTR and other.origin is not Origin.PLAIN_ATTR:
                    new = replace(value, device=other.device, origin=Origin.NONE, site=None)
                elif (
                    is_cpu(other.device)
                    and other.origin is not Origin.PLAIN_ATTR
                    and not is_cpu(value.device)
                ):
                    new = replace(value, device=DEV_CPU)
                else:
                    continue
                scope.env[key] = new
                refined[key] = (value, new)
                break
        return refined

    # ------------------------------------------------------------------ combining
    def combine(
        self,
        node: cst.CSTNode,
        operands: list[tuple[cst.CSTNode, Value]],
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
        origin, site, fills = base.origin, base.site, base.fills
        if not placed:
            # keep why a CPU result is on the CPU (factory, batch, ...): the operand that
            # certainly has dimensions first, since a 0-dim one mixes with anything
            for _, v in sorted(tensors, key=lambda nv: nv[1].scalar is not False):
                if v.origin is not Origin.NONE and v.scalar is not True:
                    origin, site, fills = v.origin, v.site, v.fills
                    break
        return tensor(
            base.device,
            origin=origin if origin is not Origin.PARAM else Origin.NONE,
            site=site,
            fills=fills,
            scalar=scalar,
            requires_grad=any(v.requires_grad for _, v in tensors),
        )

    def check_operands(
        self,
        node: cst.CSTNode,
        tensors: list[tuple[cst.CSTNode, Value]],
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
        node: cst.CSTNode,
        context: Context,
        op_text: str,
        culprit: tuple[cst.CSTNode, Value],
        partner: tuple[cst.CSTNode, Value],
        scope: Scope,
        module_text: Optional[str] = None,
    ) -> None:
        """Classify a mismatch by its root cause and record it once."""
        cnode, cval = culprit
        if cval.also:
            # a value that may be any of several CPU tensors (an LSTM's `(h0, c0)` or a
            # GRU's `h0`): each factory is a defect of its own
            for extra in cval.also:
                self.record(
                    node, context, op_text, (cnode, replace(cval, site=extra, also=())),
                    partner, scope, module_text,
                )  # fmt: skip
            cval = replace(cval, also=())
        if not scope.report:
            reporter = scope.reporter
            if (
                reporter is None
                or cval.origin is not Origin.FACTORY
                or cval.site is None
                or not self.reaches_reporter(cval.site, scope, reporter)
                or scope.func is reporter.func  # a recursive call
                or self.builds_module(reporter)
            ):
                return
            # the caller's factory, met in a callee: reported in the caller
            met_in = scope.func.name.value if scope.func is not None else ""
            if scope.cls is not None and met_in:
                met_in = f"{scope.cls.name}.{met_in}"
            scope = reporter
        else:
            met_in = ""
        pnode, pval = partner
        certain = is_cpu(cval.device)
        origin = cval.origin
        if origin is Origin.DISCARDED:
            return  # DL004 reports the discarded statement
        weight_of_module = context is Context.LOSS_WEIGHT and self.text(cnode) == op_text
        if context is Context.LOSS_WEIGHT and origin is not Origin.PLAIN_ATTR and (
            weight_of_module or origin is not Origin.FACTORY or cval.site is None
        ):
            # DL009 words it as a loss weight (a loss module never moved with its weight);
            # a `weight=` argument made without `device=` is a factory's defect (DL005), and
            # a library's contract with its callers applies to it
            cause = Cause.OTHER
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
        handed_in = None
        if cause is Cause.FACTORY and pval.device == sym("self") and self.builds_module(scope):
            # while `__init__` builds the module, its buffers and layers are on the CPU
            # (`self.register_buffer("mask", ...)` then `torch.arange(n) & self.mask`); a
            # module the caller hands in (`backbone`) is where the caller built it:
            # models are built, then moved, so only a call here that hands in a placed
            # module makes the probe `self.backbone(torch.zeros(1, *size))` fail
            handed_in = self.given_to_init(scope, pnode)
            if handed_in is None:
                return
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
        # a loader known only by name whose batches this loop never moves: a CPU loader
        # if another loop of the file moves the batches of its own (a validation loop
        # next to a training loop that moves them); decided once the file is walked
        unproven_loader = (
            cause is Cause.BATCH
            and id(cval.site) in self.heuristic_sites
            and id(cval.site) not in self.moved_sites
        )
        if cause is Cause.BATCH and (id(scope.func), self.text(cnode)) in self.discarded_batches:
            return  # its entries' moves were discarded: DL004 reports the root cause
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
        root = self.root_key(cnode, cval, scope) if cause is Cause.OTHER else None
        if root is not None and root in self._seen:
            # the same unmoved value met again further down the flow: one defect, whose
            # first meeting has been reported
            return
        evidence = None
        if handed_in is not None:
            needs_placement = True
            evidence = handed_in
        elif cause is Cause.FACTORY and weak and self.self_contained:
            # a program, a test module or a notebook: every caller is in sight, so a
            # parameter is on an accelerator only if a call here passes it one (or, with
            # no single parameter to follow, if the file places anything at all)
            needs_placement = True
            param = sole_param(pval.device)
            if scope.func is not None and param is not None:
                evidence = (id(param_owner(scope, param)), param)
        elif (
            cause is Cause.FACTORY and weak and scope.func is not None and len(pval.device) == 1
            # a helper module's functions are called where we see and from scripts we do
            # not; a library's public functions by anyone, but where this file calls one
            # and every call passes that parameter a CPU tensor, it is a helper of that
            # code first (diffusers' `get_guidance_scale_embedding(w)`, always given a CPU
            # `w` whose embedding the pipeline moves afterwards), as DL007 judges it
        ):
            param = sole_param(pval.device)
            if param is not None:
                evidence = (-id(param_owner(scope, param)), param)
        omitted = None
        if cval.fills and not (self.open_world and self.is_public_api(scope)):
            omitted = cval.fills
        if unproven_loader:
            evidence = (0, MOVED_ELSEWHERE + batch_owner(scope))
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
                contract=self.open_contract(scope, pval.device) if cause is Cause.FACTORY else "",
                callee=met_in,
            ),
            needs_placement,
            evidence,
            omitted,
        )
        if root is not None and not needs_placement and evidence is None:
            self._seen.add(root)

    def reaches_reporter(self, site: cst.CSTNode, callee: Scope, reporter: Scope) -> bool:
        """Whether a factory's tensor met in a callee analysed for `reporter` came from the
        reporting caller: made there, or in a function of this file whose result the
        caller holds (`table = rotary_table(n)`, then `apply(x, table)`); not one the
        callee made itself, which the callee's own analysis reports."""
        made_in = self.created_in.get(id(site))
        if made_in is None or made_in == id(callee.func):
            return False
        if made_in == id(reporter.func):
            return True
        if made_in == id(None) or made_in not in self.definitions():  # type: ignore[attr-defined]
            return False
        # a function still being analysed made it on the way down to this callee (a
        # shape probe `self.forward(torch.zeros(...))` that the reporter's constructor
        # call runs): not a result the reporter holds
        return all(id(r.func) != made_in for r in self._requests)  # type: ignore[attr-defined]

    @staticmethod
    def given_to_init(scope: Scope, node: cst.CSTNode) -> Optional[tuple[int, str]]:
        """When `node` is `self.x` (or a call of it) and `__init__` sets `self.x` to one of
        its parameters (`self.backbone = backbone or nn.Conv2d(...)`; not a layer built
        from one, `nn.Linear(8, width)`, which is new and on the CPU): the constructor
        and that parameter, as `record_passed` keys what calls pass it."""
        while type(node) is cst.Call:
            node = node.func
        if scope.cls is None or type(node) is not cst.Attribute:
            return None
        if type(node.value) is not cst.Name or node.value.value != "self":
            return None
        init = scope.cls.methods.get("__init__")
        if init is None:
            return None
        params = {p.name.value for p in all_params(init)}
        for stmt in walk(init):
            if type(stmt) is not cst.Assign or len(stmt.targets) != 1:
                continue
            target = stmt.targets[0].target
            if type(target) is cst.Attribute and target.attr.value == node.attr.value:
                held = held_arguments(stmt.value, params)
                if held:
                    return id(init), sorted(held)[0]
        return None

    def builds_module(self, scope: Scope) -> bool:
        """`scope` is a module's `__init__` or a method it calls: the module is being
        built, on the CPU, whatever its other methods will see later."""
        if scope.cls is None or scope.func is None or not scope.cls.is_module:
            return False
        name = scope.func.name.value
        return name == "__init__" or name in self.called_in_init

    def root_key(self, cnode: cst.CSTNode, cval: Value, scope: Scope) -> Optional[tuple]:
        """The identity of the value on the wrong side of a mismatch, within one analysis
        of one function: a module by its object id, a tensor named by a variable or
        attribute by the binding it holds (the very `Value` the environment holds, kept
        alive here so its `id` is not reused).  A value computed in the expression itself
        has no identity beyond its operation."""
        if cval.kind is Kind.MODULE and cval.oid:
            return ("root", "oid", cval.oid, id(scope.func))
        if N.dotted(cnode) is None:  # type: ignore[arg-type]
            return None
        self._root_values.append(cval)
        return ("root", "value", id(cval), id(scope.func))

    # ------------------------------------------------------------------ iteration
    def element_of(self, value: Value, node: cst.BaseExpression, scope: Scope) -> Value:
        if value.elem is not None:
            return value.elem
        if value.kind is Kind.LOADER:
            return Value(Kind.BATCH, value.device, Origin.LOADER)
        if value.kind is Kind.BATCH:
            if value.elems:
                return join_all(value.elems)
            if value.origin is Origin.LOADER and is_known(value.device):
                return tensor(value.device, origin=Origin.LOADER, site=value.site, scalar=False)
            return UNKNOWN
        if value.kind is Kind.TENSOR:
            rows = value.origin is Origin.FACTORY and value.site is node and _matrix_factory(node)
            return replace(value, scalar=False if rows else None)
        if value.kind is Kind.MODULE:
            # `for layer in self.blocks:` (a ModuleList or Sequential): each member lives
            # where the container does, as `self.blocks[i]` does; a ModuleDict yields its
            # keys, a ParameterList its parameters
            if value.type_name in ("nn.ModuleDict", "nn.ParameterDict"):
                return OTHER
            if value.type_name == "nn.ParameterList":
                return tensor(value.device, scalar=None)
            if value.type_name in ("nn.ModuleList", "nn.Sequential"):
                return Value(Kind.MODULE, value.device)
        return UNKNOWN


def param_owner(scope: Scope, param: str) -> cst.FunctionDef:
    """The function whose parameter `param` is: the one running, or, for a method that
    reads what its constructor stored (`self.model = model`), the class's `__init__`."""
    func = scope.func
    assert func is not None
    if scope.cls is None or has_param(func, param):
        return func
    init = scope.cls.methods.get("__init__")
    if init is not None and has_param(init, param):
        return init
    return func


# factories whose sizes come first, as separate arguments or one tuple
_SIZED_FACTORIES = frozenset({"zeros", "ones", "empty", "rand", "randn"})


def _matrix_factory(node: cst.BaseExpression) -> bool:
    """A factory call that certainly makes a tensor of two or more dimensions, so that
    iterating it yields tensors, not 0-dim scalars: `torch.eye(n)`, `torch.zeros(n, m)`,
    `torch.ones((n, m))`."""
    if type(node) is not cst.Call:
        return False
    last = N.last_name(node.func)
    if last == "eye":
        return True
    if last not in _SIZED_FACTORIES:
        return False
    sizes = [a for a in node.args if a.keyword is None]
    if any(a.star for a in sizes):
        return False
    if len(sizes) == 1 and type(sizes[0].value) in (cst.Tuple, cst.List):
        elements = sizes[0].value.elements  # type: ignore[union-attr]
        return len(elements) >= 2 and not any(isinstance(e, cst.StarredElement) for e in elements)
    return len(sizes) >= 2


def fold_comparison(op: cst.BaseCompOp, left: Value, right: Value) -> Optional[bool]:
    """The outcome of `left <op> right` when the operands decide it: `x is None` /
    `x is not None` where `x`'s None-ness is known, `==` / `!=` between two constants
    (an int is never equal to a str here: a bool is an int, as in Python).  None when the
    engine cannot tell."""
    if isinstance(op, (cst.Is, cst.IsNot)):
        outcome: Optional[bool] = None
        if right.const is None:
            outcome = is_none(left)
        elif left.const is None:
            outcome = is_none(right)
        if outcome is None:
            return None
        return outcome if isinstance(op, cst.Is) else not outcome
    if isinstance(op, (cst.Equal, cst.NotEqual)):
        if left.const is NO_CONST or right.const is NO_CONST:
            return None
        equal = left.const == right.const
        return equal if isinstance(op, cst.Equal) else not equal
    return None


# `eval_` methods by node class (None: none), filled on first use
_MISSING = object()
_EVALS: dict[type, object] = {}


def _only_new_axes(index: cst.BaseExpression) -> bool:
    """An index that keeps every dimension: `...`, `None`, or a tuple built of them only
    (`(...,) + (None,) * (x.dim() - 1)`, a common broadcasting idiom)."""
    kind = type(index)
    if kind is cst.Ellipsis or (kind is cst.Name and index.value == "None"):
        return True
    if kind is cst.Tuple:
        return all(_only_new_axes(e.value) for e in index.elements)
    if kind is cst.BinaryOperation and type(index.operator) is cst.Add:
        return _only_new_axes(index.left) and _only_new_axes(index.right)
    if kind is cst.BinaryOperation and type(index.operator) is cst.Multiply:
        # `(None,) * k`: the tuple side decides
        return _only_new_axes(index.left) or _only_new_axes(index.right)
    return False
