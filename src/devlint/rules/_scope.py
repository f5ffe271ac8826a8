"""Where names are bound, so that a fix only writes an expression that can run where it goes.

A fix that names a device (`x.to(device)`, `device=logits.device`) must not name a variable
that is not bound at that point: a parameter of another method (`device` of `__init__` used
in `train_epoch`), or a local assigned further down (`logits` before the loop that makes it).
Such a fix would turn a device error into a `NameError` or `UnboundLocalError`.

The check follows Python's scoping rules closely enough for that purpose: function, lambda
and comprehension scopes; class bodies invisible to their methods; `global`; and, in the
scope the expression is written in, only bindings that come earlier in evaluation order (a
target after its value, a loop target before its body).  It is built only for files that
have a fix to check, in one iterative pass (deeply nested code cannot overflow the stack).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Optional, Union

import libcst as cst

from devlint.engine.facts import FileFacts
from devlint.engine.syntax import target_names
from devlint.engine.walk import iter_children


@dataclass
class _Scope:
    kind: str  # module, function, class, comprehension
    parent: Optional[_Scope]
    bindings: dict[str, list[int]] = field(default_factory=dict)
    globals: set[str] = field(default_factory=set)
    # in a class scope: `self.<attr> = <name>` assignments made by its methods, name -> attr
    self_attrs: dict[str, str] = field(default_factory=dict)
    owner: Optional[_Scope] = None  # a method's class scope, when its first parameter is self

    def bind(self, names: Iterable[str], order: int) -> None:
        for name in names:
            self.bindings.setdefault(name, []).append(order)


_COMPREHENSIONS = (cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)
_COMPREHENSION_TYPES = frozenset(_COMPREHENSIONS)


def _import_names(node: Union[cst.Import, cst.ImportFrom]) -> list[str]:
    if isinstance(node.names, cst.ImportStar):
        return []
    names = []
    for alias in node.names:
        if alias.asname is not None:
            names.extend(target_names(alias.asname.name))
        else:
            root: cst.BaseExpression = alias.name
            while isinstance(root, cst.Attribute):
                root = root.value
            names.extend(target_names(root))
    return names


class _Bind:
    """A stack item: bind `names` in `scope` once the items pushed before it have run."""

    __slots__ = ("names", "scope")

    def __init__(self, names: Iterable[str], scope: _Scope) -> None:
        self.names, self.scope = list(names), scope


class Bindings:
    """Every node's scope and evaluation order, and every scope's bindings, for one module."""

    def __init__(self, module: cst.Module) -> None:
        self.module_scope = _Scope("module", None)
        self._where: dict[int, tuple[_Scope, int]] = {}
        self._build(module)

    def _build(self, module: cst.Module) -> None:
        order = 0
        stack: list[tuple[object, _Scope]] = [(module, self.module_scope)]
        while stack:
            item, scope = stack.pop()
            order += 1
            if type(item) is _Bind:
                item.scope.bind(item.names, order)
                continue
            node = item
            self._where[id(node)] = (scope, order)
            cls = type(node)  # compared by type: isinstance on LibCST classes goes through ABCMeta
            later: list[tuple[object, _Scope]] = []  # evaluated in this order
            if cls is cst.FunctionDef:
                inner = _Scope("function", scope)
                params = _param_names(node.params)
                inner.bind(params, 0)
                if scope.kind == "class" and params and params[0] == "self":
                    inner.owner = scope
                later = [(d, scope) for d in node.decorators]
                later += [(node.params, scope), (_Bind([node.name.value], scope), scope)]
                later.append((node.body, inner))
            elif cls is cst.Lambda:
                inner = _Scope("function", scope)
                inner.bind(_param_names(node.params), 0)
                later = [(node.body, inner)]
            elif cls is cst.ClassDef:
                inner = _Scope("class", scope)
                later = [(d, scope) for d in node.decorators]
                later += [(a, scope) for a in node.bases]
                later += [(_Bind([node.name.value], scope), scope), (node.body, inner)]
            elif cls in _COMPREHENSION_TYPES:
                inner = _Scope("comprehension", scope)
                later = [(node.for_in, inner)]
                parts = (node.key, node.value) if cls is cst.DictComp else (node.elt,)
                later += [(p, inner) for p in parts]
            elif cls is cst.CompFor:
                later = [(node.iter, scope), (_Bind(target_names(node.target), scope), scope)]
                later += [(i, scope) for i in node.ifs]
                if node.inner_for_in is not None:
                    later.append((node.inner_for_in, scope))
            elif cls is cst.Assign:
                later = [(node.value, scope)]
                for t in node.targets:
                    later += [(t.target, scope), (_Bind(target_names(t.target), scope), scope)]
                self._note_self_attr(node, scope)
            elif cls is cst.AnnAssign or cls is cst.AugAssign:
                later = [(node.value, scope)] if node.value is not None else []
                later += [(node.target, scope), (_Bind(target_names(node.target), scope), scope)]
            elif cls is cst.NamedExpr:
                later = [(node.value, scope), (_Bind(target_names(node.target), scope), scope)]
            elif cls is cst.For:
                later = [(node.iter, scope), (_Bind(target_names(node.target), scope), scope)]
                later += [(node.target, scope), (node.body, scope)]
                if node.orelse is not None:
                    later.append((node.orelse, scope))
            elif cls is cst.WithItem:
                later = [(node.item, scope)]
                if node.asname is not None:
                    later.append((_Bind(target_names(node.asname.name), scope), scope))
            elif cls is cst.ExceptHandler:
                if node.type is not None:
                    later.append((node.type, scope))
                if node.name is not None:
                    later.append((_Bind(target_names(node.name.name), scope), scope))
                later.append((node.body, scope))
            elif cls is cst.Import or cls is cst.ImportFrom:
                scope.bind(_import_names(node), order)
            elif cls is cst.Global or cls is cst.Nonlocal:
                if cls is cst.Global:
                    scope.globals.update(n.name.value for n in node.names)
            else:
                later = [(child, scope) for child in iter_children(node)]
            stack.extend(reversed(later))

    @staticmethod
    def _note_self_attr(node: cst.Assign, scope: _Scope) -> None:
        if scope.owner is None or not isinstance(node.value, cst.Name):
            return
        for t in node.targets:
            target = t.target
            if (
                isinstance(target, cst.Attribute)
                and isinstance(target.value, cst.Name)
                and target.value.value == "self"
            ):
                scope.owner.self_attrs.setdefault(node.value.value, target.attr.value)

    def usable(self, expression: str, at: cst.CSTNode) -> bool:
        """Whether `expression` (a name or dotted attribute) can be evaluated at `at`: its
        first name is bound there, and, in the scope `at` is written in, bound before it."""
        where = self._where.get(id(at))
        if where is None:
            return False
        scope: Optional[_Scope] = where[0]
        order = where[1]
        root = expression.split(".", 1)[0]
        strict, first = True, True
        while scope is not None:
            if root in scope.globals:
                scope, first = self.module_scope, False
                continue
            if (first or scope.kind != "class") and root in scope.bindings:
                if strict:
                    return any(o < order for o in scope.bindings[root])
                return True
            if scope.kind == "function":
                strict = False
            first = False
            scope = scope.parent
        return False

    def via_self(self, name: str, at: cst.CSTNode) -> Optional[str]:
        """`self.<attr>` for a method where `self.<attr> = <name>` is assigned somewhere in
        its class (`self.device = device` in `__init__`), when `name` itself is not usable."""
        where = self._where.get(id(at))
        scope = where[0] if where else None
        while scope is not None and scope.kind == "comprehension":
            scope = scope.parent
        while scope is not None and scope.kind == "function" and scope.owner is None:
            scope = scope.parent  # a nested function or lambda inside a method
        if scope is None or scope.owner is None:
            return None
        attr = scope.owner.self_attrs.get(name)
        return f"self.{attr}" if attr else None


def _param_names(params: cst.Parameters) -> list[str]:
    names = [p.name.value for p in (*params.posonly_params, *params.params)]
    if isinstance(params.star_arg, cst.Param):
        names.append(params.star_arg.name.value)
    names += [p.name.value for p in params.kwonly_params]
    if params.star_kwarg is not None:
        names.append(params.star_kwarg.name.value)
    return names


def bindings(facts: FileFacts) -> Bindings:
    """The file's bindings, built on first use (most files never need them)."""
    if facts.bindings is None:
        assert facts.module is not None
        facts.bindings = Bindings(facts.module)
    return facts.bindings  # type: ignore[return-value]


def usable_device(facts: FileFacts, expression: Optional[str], at: cst.CSTNode) -> Optional[str]:
    """`expression` if it can be evaluated at `at`, else an equivalent `self.<attr>` that
    can, else None."""
    if expression is None:
        return None
    b = bindings(facts)
    if b.usable(expression, at):
        return expression
    if "." not in expression:
        alternative = b.via_self(expression, at)
        if alternative is not None and b.usable(alternative, at):
            return alternative
    return None
