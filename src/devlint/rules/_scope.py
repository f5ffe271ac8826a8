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

import ast
from dataclasses import dataclass, field
from typing import Iterable, Optional, Union

from devlint.engine.facts import FileFacts
from devlint.engine.nodes import FUNCTION_DEFS, args_of, defaults
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


_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_FORS = (ast.For, ast.AsyncFor)
_TRY_STAR = getattr(ast, "TryStar", None)


def _import_names(node: Union[ast.Import, ast.ImportFrom]) -> list[str]:
    if node.names[0].name == "*":
        return []
    names = []
    for alias in node.names:
        if alias.asname is not None:
            names.append(alias.asname)
        else:
            names.append(alias.name.split(".", 1)[0])
    return names


class _Bind:
    """A stack item: bind `names` in `scope` once the items pushed before it have run."""

    __slots__ = ("names", "scope")

    def __init__(self, names: Iterable[str], scope: _Scope) -> None:
        self.names, self.scope = list(names), scope


class Bindings:
    """Every node's scope and evaluation order, and every scope's bindings, for one module."""

    def __init__(self, module: ast.Module) -> None:
        self.module_scope = _Scope("module", None)
        self._where: dict[int, tuple[_Scope, int]] = {}
        self._build(module)

    def _build(self, module: ast.Module) -> None:
        order = 0
        stack: list[tuple[object, _Scope]] = [(module, self.module_scope)]
        # the handlers of `try: ... except* E as e:` (they bind nothing here, as before)
        star_handlers: set[int] = set()
        while stack:
            item, scope = stack.pop()
            order += 1
            if isinstance(item, _Bind):
                item.scope.bind(item.names, order)
                continue
            node = item
            assert isinstance(node, ast.AST)
            self._where[id(node)] = (scope, order)
            later: list[tuple[object, _Scope]] = []  # evaluated in this order
            cls = type(node)
            if cls in FUNCTION_DEFS:
                inner = _Scope("function", scope)
                params = _param_names(node.args)
                inner.bind(params, 0)
                if scope.kind == "class" and params and params[0] == "self":
                    inner.owner = scope
                later = [(d, scope) for d in node.decorator_list]
                later += [(node.args, scope), (_Bind([node.name], scope), scope)]
                later += [(s, inner) for s in node.body]
            elif cls is ast.Lambda:
                inner = _Scope("function", scope)
                inner.bind(_param_names(node.args), 0)
                later = [(node.body, inner)]
            elif cls is ast.ClassDef:
                inner = _Scope("class", scope)
                later = [(d, scope) for d in node.decorator_list]
                later += [(a, scope) for a in node.bases]
                later.append((_Bind([node.name], scope), scope))
                later += [(s, inner) for s in node.body]
            elif cls in _COMPREHENSIONS:
                inner = _Scope("comprehension", scope)
                later = [(g, inner) for g in node.generators]
                parts = (node.key, node.value) if cls is ast.DictComp else (node.elt,)
                later += [(p, inner) for p in parts]
            elif cls is ast.comprehension:
                later = [(node.iter, scope), (_Bind(target_names(node.target), scope), scope)]
                later += [(i, scope) for i in node.ifs]
            elif cls is ast.Assign:
                later = [(node.value, scope)]
                for t in node.targets:
                    later += [(t, scope), (_Bind(target_names(t), scope), scope)]
                self._note_self_attr(node, scope)
            elif cls is ast.AnnAssign or cls is ast.AugAssign:
                later = [(node.value, scope)] if node.value is not None else []
                later += [(node.target, scope), (_Bind(target_names(node.target), scope), scope)]
            elif cls is ast.NamedExpr:
                later = [(node.value, scope), (_Bind(target_names(node.target), scope), scope)]
            elif cls in _FORS:
                later = [(node.iter, scope), (_Bind(target_names(node.target), scope), scope)]
                later.append((node.target, scope))
                later += [(s, scope) for s in node.body]
                later += [(s, scope) for s in node.orelse]
            elif cls is ast.withitem:
                later = [(node.context_expr, scope)]
                if node.optional_vars is not None:
                    later.append((_Bind(target_names(node.optional_vars), scope), scope))
            elif cls is ast.ExceptHandler:
                if id(node) in star_handlers:
                    # walked like any node: its body first, then its type; no name bound
                    later = [(s, scope) for s in node.body]
                    if node.type is not None:
                        later.append((node.type, scope))
                else:
                    if node.type is not None:
                        later.append((node.type, scope))
                    if node.name is not None:
                        later.append((_Bind([node.name], scope), scope))
                    later += [(s, scope) for s in node.body]
            elif cls is ast.Import or cls is ast.ImportFrom:
                scope.bind(_import_names(node), order)
            elif cls is ast.Global or cls is ast.Nonlocal:
                if cls is ast.Global:
                    scope.globals.update(node.names)
            else:
                # other nodes: their children in evaluation order (parameters with their
                # defaults, dict keys with their values, call arguments as written)
                if cls is _TRY_STAR:
                    star_handlers.update(id(h) for h in node.handlers)
                later = [(child, scope) for child in _children(node, cls)]
            stack.extend(reversed(later))

    @staticmethod
    def _note_self_attr(node: ast.Assign, scope: _Scope) -> None:
        if scope.owner is None or type(node.value) is not ast.Name:
            return
        for target in node.targets:
            if (
                type(target) is ast.Attribute
                and type(target.value) is ast.Name
                and target.value.id == "self"
            ):
                scope.owner.self_attrs.setdefault(node.value.id, target.attr)

    def usable(self, expression: str, at: ast.AST) -> bool:
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

    def via_self(self, name: str, at: ast.AST) -> Optional[str]:
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


def _param_names(params: ast.arguments) -> list[str]:
    names = [p.arg for p in (*params.posonlyargs, *params.args)]
    if params.vararg is not None:
        names.append(params.vararg.arg)
    names += [p.arg for p in params.kwonlyargs]
    if params.kwarg is not None:
        names.append(params.kwarg.arg)
    return names


_MATCH_CASE = getattr(ast, "match_case", None)  # Python 3.10+


def _children(node: ast.AST, cls: type) -> list[ast.AST]:
    """The children of `node` in evaluation order, where it differs from `ast`'s fields."""
    if cls is ast.arguments:
        # each parameter then its default: ordinary ones, `*a`, keyword-only, `**k`, and
        # positional-only ones last
        table = defaults(node)  # type: ignore[arg-type]
        out: list[ast.AST] = []
        for p in (*node.args, node.vararg, *node.kwonlyargs, node.kwarg, *node.posonlyargs):
            if p is not None:
                out.append(p)
                default = table.get(p.arg)
                if default is not None:
                    out.append(default)
        return out
    if cls is ast.Dict:
        out = []
        for key, value in zip(node.keys, node.values):
            if key is not None:
                out.append(key)
            out.append(value)
        return out
    if cls is _MATCH_CASE:
        # the guard runs before the body
        guard = [node.guard] if node.guard is not None else []
        return [node.pattern, *guard, *node.body]
    if cls is ast.Call:
        # the arguments as written (`f(k=1, *rest)`: ast keeps the positional ones first)
        return [node.func, *(a.node for a in args_of(node))]
    return list(iter_children(node))


def bindings(facts: FileFacts) -> Bindings:
    """The file's bindings, built on first use (most files never need them)."""
    if facts.bindings is None:
        assert facts.module is not None
        facts.bindings = Bindings(facts.module)
    return facts.bindings  # type: ignore[return-value]


def usable_device(facts: FileFacts, expression: Optional[str], at: ast.AST) -> Optional[str]:
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
