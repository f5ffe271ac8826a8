"""The flow-sensitive device analysis.

An abstract interpreter over `ast` nodes: it walks each scope statement by statement,
keeping an environment from names (`x`, `self.model`, `args.device`) to abstract values
(`values.Value`), joins environments where branches meet and runs loop bodies to a
fixpoint.  While evaluating expressions it records *facts* (`facts.py`): places where
operands on different devices meet, discarded moves, `.numpy()` calls, and so on.

Scopes are analysed in this order: module level (functions and classes are summarised
lazily when called), then every function and method on its own, with symbolic
parameters and the final module environment as globals.  Calls to functions of the
same file are analysed in the caller's context (arguments bound to the caller's values)
with reporting switched off, so the callee's facts are reported once, from its own
standalone analysis, while its return value and in-place moves flow back to the caller.

This module holds the driver, scopes, statements and binding; expression evaluation
lives in `expressions.py`, calls in `calls.py`, `methods.py` and `moves.py` (mixins of
`Analyzer`), syntactic helpers in `syntax.py`.
"""

from __future__ import annotations

import ast
import itertools
import re
import sys
import threading
from dataclasses import replace
from typing import Iterable, Optional, Sequence

from devlint.engine import names as N
from devlint.engine.calls import CallsMixin
from devlint.engine.expressions import ExpressionsMixin
from devlint.engine.facts import (
    FileFacts,
)
from devlint.engine.methods import MethodsMixin
from devlint.engine.moves import MovesMixin
from devlint.engine.nodes import (
    BINARY_OPERATORS,
    FUNCTION_DEFS,
    TRY_STATEMENTS,
    AnyFunctionDef,
    Source,
    all_params,
    args_of,
    default_of,
    is_constant,
)
from devlint.engine.scope import (
    CPU_SIDE_BASES,
    HEURISTIC_LOADER,
    LAYER_PARAMETER,
    MAX_LOOP_PASSES,
    NUMPY_PARAM,
    ClassInfo,
    LoopInfo,
    Scope,
)
from devlint.engine.syntax import (
    called_method_names,
    collate_moves,
    cpu_only_params,
    holds_no_state,
    is_exit_call,
    is_returning_fixture,
    moves_params,
    mutated_self_attrs,
    names_in,
    places_with,
    subscript_key,
    target_names,
    tensor_uses,
)
from devlint.engine.values import (
    DEV_ANY,
    DEV_CPU,
    DEV_UNKNOWN,
    NUMBER,
    OTHER,
    UNKNOWN,
    Kind,
    Origin,
    Value,
    container_device,
    is_cpu,
    is_known,
    is_placed,
    join_values,
    partly_cpu,
    sym,
    tensor,
)


class Analyzer(ExpressionsMixin, CallsMixin, MethodsMixin, MovesMixin):
    def __init__(
        self,
        module: ast.Module,
        source: str,
        device_names: Sequence[str] = (),
    ) -> None:
        # extra names (`[tool.devlint] device-names`) that hold the target device
        self.device_names = frozenset(device_names)
        self.module = module
        self.facts = FileFacts(module=module, source=Source(source))
        self.imports = N.ImportMap()
        self.imports.collect(module.body)
        self.classes: dict[str, ClassInfo] = {}
        self.functions: dict[str, AnyFunctionDef] = {}
        # pytest fixtures of this file that return their value, by name
        self.fixtures: dict[str, AnyFunctionDef] = {}
        self._oids = itertools.count(1)
        self._seen: set[tuple] = set()
        self.module_env: dict[str, Value] = {}
        # Facts whose partner is only a parameter's device count when the file itself
        # places something on an accelerator (set during the walk, applied at the end).
        self.placed_seen = False
        # hooks (offloading, accelerate dispatch) move modules when they are called
        self.hooks_possible = any(
            s in source for s in ("offload", "dispatch_model", "_hook(", "init_empty_weights")
        )
        self._tensor_uses: dict[int, tuple[frozenset[str], frozenset[str]]] = {}
        # (function, parameter) pairs that a call in this file passes a placed tensor to
        self.placed_params: set[tuple[int, str]] = set()
        # (function, parameter) -> what same-file calls pass it: "cpu", "placed", "other"
        self.passed: dict[tuple[int, str], set[str]] = {}
        self.created_in: dict[int, int] = {}  # factory call -> the function it runs in
        # loop targets over loaders known only by name, and those whose batches get moved
        self.heuristic_sites: set[int] = set()
        self.moved_sites: set[int] = set()
        self._conditions: dict[int, bool] = {}
        self.module_guarded = False
        self._pending: list[tuple[list, object, Optional[tuple[int, str]]]] = []
        self.collate_moves = "collate" in source and collate_moves(module)
        # a script (`if __name__ == "__main__":`), whose functions only it calls
        self.is_program = any(
            type(s) is ast.If and "__name__" in set(names_in(s.test)) for s in module.body
        )
        self.default_device_changed = "set_default_device" in source
        self._in_progress: set[int] = set()
        self._collect_defs(module.body)

    # ------------------------------------------------------------------ set-up
    def _collect_defs(self, body: Sequence[ast.stmt]) -> None:
        for stmt in body:
            if isinstance(stmt, FUNCTION_DEFS):
                self.functions[stmt.name] = stmt
                if is_returning_fixture(stmt):
                    self.fixtures[stmt.name] = stmt
            elif type(stmt) is ast.ClassDef:
                bases = [self.imports.qualify(b) or "" for b in stmt.bases]
                info = ClassInfo(stmt, stmt.name, bases)
                for item in stmt.body:
                    if isinstance(item, FUNCTION_DEFS):
                        info.methods[item.name] = item
                info.defines_to = "to" in info.methods or "_apply" in info.methods

                self.classes[info.name] = info
            elif type(stmt) is ast.If or type(stmt) in TRY_STATEMENTS:
                self._collect_defs(stmt.body)
        for info in self.classes.values():
            info.cpu_side = self._is_cpu_side_class(info, set())
        for info in self.classes.values():
            info.is_module = self._is_module_class(info, set())
            info.stateless = info.is_module and holds_no_state(info.bases, info.methods)
            if not info.is_module:
                # only plain classes (trainers...) need to know what later methods change
                info.rebound, info.moved = mutated_self_attrs(info.methods)
            forward = info.methods.get("forward")
            if info.is_module and forward is not None:
                info.moves_inputs = moves_params(forward)
                info.cpu_inputs = cpu_only_params(forward)
        self.some_module_moves_inputs = any(c.moves_inputs for c in self.classes.values())
        # module classes whose forward needs some inputs on the CPU (`ClassInfo.cpu_inputs`)
        self.packing_classes = [c for c in self.classes.values() if c.cpu_inputs]
        # methods that constructors call: they run while the module is still on the CPU
        self.called_in_init: set[str] = set()
        for info in self.classes.values():
            init = info.methods.get("__init__")
            if info.is_module and init is not None:
                self.called_in_init |= called_method_names(init)

    def _is_cpu_side_class(self, info: ClassInfo, seen: set[str]) -> bool:
        """Datasets, samplers, loaders and transforms run in the data pipeline, on the CPU;
        so do collators (`DataCollatorForLanguageModeling`), whatever their bases."""
        seen.add(info.name)
        if "Collator" in info.name:
            return True
        for base in info.bases:
            local = base.rsplit(".", 1)[-1]
            if local.endswith(CPU_SIDE_BASES):
                return True
            if (
                local in self.classes
                and local not in seen
                and self._is_cpu_side_class(self.classes[local], seen)
            ):
                return True
        return False

    def _is_module_class(self, info: ClassInfo, seen: set[str]) -> bool:
        seen.add(info.name)
        if "forward" in info.methods:
            return True
        for base in info.bases:
            if base.startswith("torch.nn") or base.endswith(
                ("nn.Module", "LightningModule", "PreTrainedModel", "Module", "Sequential")
            ):
                return True
            local = base.rsplit(".", 1)[-1]
            if (
                local in self.classes
                and local not in seen
                and self._is_module_class(self.classes[local], seen)
            ):
                return True
        return False

    def once(self, *key: object) -> bool:
        """True the first time a fact is seen: loop bodies are walked more than once."""
        if key in self._seen:
            return False
        self._seen.add(key)
        return True

    def new_oid(self) -> int:
        return next(self._oids)

    def text(self, node: ast.AST) -> str:
        return self.facts.text(node)

    def is_device_name(self, name: str) -> bool:
        """`device`, `args.device`, `self.dev`, or a name the configuration declares."""
        return (
            N.is_device_name(name)
            or name in self.device_names
            or (name.rsplit(".", 1)[-1] in self.device_names)
        )

    def is_device_condition(self, node: ast.AST) -> bool:
        """A test that checks which device is available or in use (`torch.cuda.is_available()`,
        `args.cuda`, `device.type == "cuda"`): code under it is guarded."""
        key = id(node)
        known = self._conditions.get(key)
        if known is None:
            known = any(N.DEVICE_CONDITION_RE.search(n) for n in names_in(node))
            self._conditions[key] = known
        return known

    # ------------------------------------------------------------------ driver
    def run(self) -> FileFacts:
        scope = Scope(env={}, report=True)
        self.walk_block(self.module.body, scope)
        self.module_env = scope.env
        # `pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), ...)` or an early exit
        self.module_guarded = scope.guarded_rest
        for func in self.functions.values():
            self.analyze_function(func, None, report=True)
        for info in self.classes.values():
            for method in info.methods.values():
                self.analyze_function(method, info, report=True)
        for target, fact, evidence in self._pending:
            if evidence is not None and evidence[0] < 0:
                # a factory meeting a parameter: unless every call in this file passes it
                # a CPU model or tensor (a script's `select_action(policy, obs)`)
                if self.passed.get((-evidence[0], evidence[1])) != {"cpu"}:
                    target.append(fact)
            elif self.placed_seen and (evidence is None or evidence in self.placed_params):
                target.append(fact)
        return self.facts

    def add_fact(
        self,
        target: list,
        fact: object,
        needs_placement: bool,
        evidence: Optional[tuple[int, str]] = None,
    ) -> None:
        """Record a fact; one that needs the file to place something on an accelerator
        (and, with `evidence`, a call passing a placed tensor to that parameter) waits
        until the whole file has been walked.  Evidence with a negative function id asks
        the opposite: drop the fact if every same-file call passes that parameter a CPU
        value."""
        if needs_placement or evidence is not None:
            self._pending.append((target, fact, evidence))
        else:
            target.append(fact)

    # ------------------------------------------------------------------ functions
    def param_values(
        self, func: AnyFunctionDef, cls: Optional[ClassInfo], scope: Scope
    ) -> dict[str, Value]:
        """Symbolic values for parameters: tensors live wherever the caller's tensors do."""
        env: dict[str, Value] = {}
        fname = func.name
        if (cls is not None and cls.cpu_side) or "collate" in fname or "transform" in fname:
            return {p.arg: UNKNOWN for p in func.args.args}
        uses = self._tensor_uses.get(id(func))
        if uses is None:
            uses = self._tensor_uses[id(func)] = tensor_uses(func)
        used_as_tensor, numpy_only = uses
        if cls is not None and cls.is_module and func.name == "forward":
            # a module's inputs are tensors by convention
            used_as_tensor |= {p.arg for p in func.args.args if default_of(func, p) is None}
        params = all_params(func.args)
        is_test = fname.startswith("test")
        for i, p in enumerate(params):
            name = p.arg
            if i == 0 and cls is not None and name in ("self", "cls"):
                continue
            self.check_device_default(func, p, scope)
            fixture, owner = (self.fixtures.get(name), None) if is_test else (None, None)
            method = cls.methods.get(name) if is_test and cls is not None else None
            if method is not None and is_returning_fixture(method):
                fixture, owner = method, cls  # a fixture defined in the test class
            if fixture is not None and fixture is not func:
                # pytest passes the fixture's value: where it lives is in this file
                env[name] = self.call_function(
                    fixture,
                    owner,
                    ast.Call(func=ast.Name(id=fixture.name), args=[], keywords=[]),
                    [],
                    scope,
                    self_value=None if owner is None else self.self_value(owner),
                )
            else:
                env[name] = self.param_value(
                    name, p, used_as_tensor, numpy_only, default=default_of(func, p)
                )
        return env

    def param_value(
        self,
        name: str,
        p: ast.arg,
        used_as_tensor: set[str],
        numpy_only: frozenset[str] = frozenset(),
        default: Optional[ast.expr] = None,
    ) -> Value:
        ann = self.text(p.annotation) if p.annotation is not None else ""
        if self.is_device_name(name) or ann in ("torch.device", "device"):
            return Value(Kind.DEVICE, sym(name))
        scalar_too = re.search(r"\b(float|int|bool)\b", ann) is not None  # Union[float, Tensor]
        if (
            "Tensor" in ann
            and not scalar_too
            and "Dict" not in ann
            and "List" not in ann
            and "dict" not in ann
        ):
            return tensor(sym(f"param:{name}"), origin=Origin.PARAM, scalar=None)
        if ann in ("int", "float"):
            return NUMBER
        if ann and any(t in ann for t in ("int", "float", "str", "bool")) and "Tensor" not in ann:
            return OTHER
        if N.is_loader_name(name) or "DataLoader" in ann:
            return self.default_loader()
        if N.is_model_name(name) or "Module" in ann:
            return Value(
                Kind.MODULE,
                sym(f"param:{name}"),
                Origin.PARAM,
                oid=self.new_oid(),
                moves_inputs=self.some_module_moves_inputs,
            )
        if name in used_as_tensor:
            return tensor(sym(f"param:{name}"), origin=Origin.PARAM, scalar=None)
        if name in numpy_only:
            # a tensor only if a caller in this file passes one (see `placed_params`)
            return tensor(
                sym(f"param:{name}"), origin=Origin.PARAM, scalar=None, type_name=NUMPY_PARAM
            )
        if not ann and is_constant(default, int, float):
            return NUMBER  # `def __init__(self, max_new_tokens=50)`
        return UNKNOWN

    def check_device_default(self, func: AnyFunctionDef, p: ast.arg, scope: Scope) -> None:
        """`def f(device="cuda")`: a finding only when the body places data with it
        (`torch.get_autocast_dtype("cuda")`-style device *types* fail nowhere)."""
        default = default_of(func, p)
        if default is None or not self.is_device_name(p.arg):
            return
        lit = N.accelerator_literal(default)
        if lit is None and type(default) is ast.Call:
            q = self.imports.qualify(default.func)
            if q == "torch.device" and args_of(default):
                lit = N.accelerator_literal(args_of(default)[0].value)
        if (
            lit is not None
            and scope.report
            and (scope.func is None or places_with(scope.func, p.arg))
        ):
            self.add_hardcoded(default, f"{p.arg}={self.text(default)}", "default", scope)

    def analyze_function(
        self,
        func: AnyFunctionDef,
        cls: Optional[ClassInfo],
        report: bool,
        args: Optional[dict[str, Value]] = None,
        self_value: Optional[Value] = None,
        depth: int = 0,
    ) -> Scope:
        scope = Scope(env={}, report=report, func=func, cls=cls, depth=depth)
        scope.globals = self.module_env
        if self.module_guarded or any(self.is_device_condition(d) for d in func.decorator_list):
            scope.guarded_rest = (
                True  # @pytest.mark.skipif(not torch.cuda.is_available()), @onlyCUDA
            )
        params = self.param_values(func, cls, scope)
        if args:
            params.update(args)
        scope.receives_tensors = any(v.kind is Kind.TENSOR for v in params.values())
        if cls is not None:
            scope.env.update(self.self_attrs(cls, func))
            scope.env["self"] = self_value or self.self_value(cls, func)
        scope.env.update(params)
        self.walk_block(func.body, scope)
        return scope

    def self_value(self, cls: ClassInfo, func: Optional[AnyFunctionDef] = None) -> Value:
        if cls.is_module:
            # during __init__ nothing has been moved yet: the module is on the CPU
            in_init = func is not None and (
                func.name == "__init__" or func.name in self.called_in_init
            )
            return Value(Kind.MODULE, DEV_CPU if in_init else sym("self"), type_name=cls.name)
        return Value(Kind.OTHER, DEV_ANY, type_name=cls.name)

    def self_attrs(self, cls: ClassInfo, func: AnyFunctionDef) -> dict[str, Value]:
        """What `self.x` holds when a method other than `__init__` starts."""
        if func.name == "__init__":
            return {}
        if cls.attrs is None:
            cls.attrs = {}
            init = cls.methods.get("__init__")
            if init is not None and id(init) not in self._in_progress:
                self._in_progress.add(id(init))
                try:
                    scope = self.analyze_function(init, cls, report=False)
                finally:
                    self._in_progress.discard(id(init))
                for key, value in scope.env.items():
                    if key.startswith("self.") and key.count(".") == 1:
                        cls.attrs[key] = self.export_attr(cls, key, value)
        return dict(cls.attrs)

    def export_attr(self, cls: ClassInfo, key: str, value: Value) -> Value:
        """Turn an `__init__` value into what other methods see."""
        if not cls.is_module:
            if key in cls.rebound:
                return UNKNOWN
            if key in cls.moved and value.kind is not Kind.TENSOR:
                return replace(value, device=DEV_UNKNOWN)
            if value.kind is Kind.MODULE and cls.bases and is_cpu(value.device):
                # a class with unknown bases (a diffusers `ModelMixin`, say) may itself be
                # moved as a whole: its submodules' device is not known
                return replace(value, device=DEV_UNKNOWN)
        if value.origin is Origin.PLAIN_ATTR:
            return value
        if value.kind is Kind.MODULE and cls.is_module:
            return replace(value, device=sym("self"), origin=Origin.NONE)
        if value.kind is Kind.TENSOR and cls.is_module:
            if value.device == sym("self"):
                return value
            return UNKNOWN
        if value.kind is Kind.DEVICE:
            return Value(Kind.DEVICE, sym(key))
        return value

    # ------------------------------------------------------------------ statements
    def walk_block(self, body: Iterable[ast.stmt], scope: Scope) -> bool:
        """Walk statements; returns False when the block certainly exits (return/raise)."""
        return all(self.walk_stmt(stmt, scope) for stmt in body)

    def walk_stmt(self, stmt: ast.stmt, scope: Scope) -> bool:
        cls = type(stmt)
        small = _SMALL.get(cls)
        if small is not None:
            return small(self, stmt, scope)
        if cls is ast.If:
            return self.walk_if(stmt, scope)
        if cls is ast.For or cls is ast.AsyncFor:
            self.walk_for(stmt, scope)
            return True
        if cls is ast.While:
            self.walk_while(stmt, scope)
            return True
        if cls is ast.With or cls is ast.AsyncWith:
            return self.walk_with(stmt, scope)
        if cls in TRY_STATEMENTS:
            return self.walk_try(stmt, scope)
        if cls is ast.FunctionDef or cls is ast.AsyncFunctionDef:
            if scope.func is not None:
                # nested function: analysed standalone later only for module-level defs;
                # analyse nested ones now, with the enclosing environment as globals
                inner = Scope(env={}, report=scope.report, func=stmt, cls=None)
                inner.globals = {**(scope.globals or {}), **scope.env}
                inner.env.update(self.param_values(stmt, None, inner))
                self.walk_block(stmt.body, inner)
            return True
        if cls is ast.ClassDef:
            return True
        if cls is _MATCH:
            return self.walk_match(stmt, scope)
        return True

    def walk_assign(self, small: ast.Assign, scope: Scope) -> bool:
        if any(N.dotted(t) == "pytestmark" for t in small.targets) and (
            self.is_device_condition(small.value)
        ):
            scope.guarded_rest = True
        lit = N.accelerator_literal(small.value)
        if lit is not None and any(self.is_device_name(N.dotted(t) or "") for t in small.targets):
            self.add_hardcoded(small.value, repr(lit), "literal", scope)
        value = self.eval(small.value, scope)
        if len(small.targets) == 1 and type(small.targets[0]) is ast.Attribute:
            self.facts.assignments[id(small.targets[0])] = small
        for target in small.targets:
            self.bind(target, value, scope)
        return True

    def walk_ann_assign(self, small: ast.AnnAssign, scope: Scope) -> bool:
        if small.value is not None:
            self.bind(small.target, self.eval(small.value, scope), scope)
        return True

    def walk_aug_assign(self, small: ast.AugAssign, scope: Scope) -> bool:
        left = self.eval(small.target, scope)
        right = self.eval(small.value, scope)
        result = self.combine(
            small,
            [(small.target, left), (small.value, right)],
            scope,
            op_text=BINARY_OPERATORS.get(type(small.op), "op") + "=",
        )
        self.bind(small.target, result, scope)
        return True

    def walk_return(self, small: ast.Return, scope: Scope) -> bool:
        scope.returns.append(self.eval(small.value, scope) if small.value else OTHER)
        return False

    def walk_raise(self, small: ast.Raise, scope: Scope) -> bool:
        if small.exc is not None:
            self.eval(small.exc, scope)
        return False

    def walk_assert(self, small: ast.Assert, scope: Scope) -> bool:
        self.eval(small.test, scope)
        if self.is_device_condition(small.test):
            scope.guarded_rest = True
        return True

    def eval_statement_expr(self, small: ast.Expr, scope: Scope) -> bool:
        """Evaluate an expression statement; False when it ends the scope (`sys.exit()`)."""
        expr = small.value
        if (
            type(expr) is ast.Call
            and type(expr.func) is ast.Attribute
            and expr.func.attr in ("to", "cuda", "cpu")
        ):
            self.eval_move(expr, scope, statement=small)
            return True
        self.eval(expr, scope)
        return not (type(expr) is ast.Call and is_exit_call(expr))

    # -- compound statements
    def walk_if(self, stmt: ast.If, scope: Scope) -> bool:
        self.eval(stmt.test, scope)
        device_test = self.is_device_condition(stmt.test)
        on_cpu = self.cpu_test(stmt.test, scope) if device_test else None
        before = dict(scope.env)
        if device_test:
            scope.guard += 1
        refined = {}
        if on_cpu is not None and on_cpu[2]:
            refined = self.refine_to_cpu(scope, on_cpu[0], on_cpu[1])
        body_falls = self.walk_block(stmt.body, scope)
        self.unrefine(scope, refined)
        if device_test:
            scope.guard -= 1
        body_env = scope.env
        scope.env = dict(before)
        refined = {}
        if on_cpu is not None and not on_cpu[2]:
            refined = self.refine_to_cpu(scope, on_cpu[0], on_cpu[1])
        else_falls = True
        if stmt.orelse:
            if device_test:
                scope.guard += 1
            else_falls = self.walk_block(stmt.orelse, scope)
            if device_test:
                scope.guard -= 1
        self.unrefine(scope, refined)
        else_env = scope.env
        if device_test and not body_falls and not stmt.orelse:
            scope.guarded_rest = True  # `if not torch.cuda.is_available(): raise ...`
        if body_falls and else_falls:
            scope.env = self.join_envs(body_env, else_env, device_test)
        elif body_falls:
            scope.env = body_env
        elif else_falls:
            scope.env = else_env
        else:
            scope.env = self.join_envs(body_env, else_env, device_test)
            return False
        return True

    def cpu_test(self, test: ast.expr, scope: Scope) -> Optional[tuple[set[str], set[str], bool]]:
        """A test that says where something is on the CPU: `device == "cpu"`,
        `self.device == CPU_DEVICE`, `x.device.type != "cpu"`, `x.is_cuda`, each possibly
        negated.  Returns the device atoms and tensor names that are on the CPU, and in
        which branch (True: where the test holds), so that `.numpy()` under
        `if self.device == cpu:` is not reported."""
        holds = True
        while type(test) is ast.UnaryOp and type(test.op) is ast.Not:
            test, holds = test.operand, not holds
        if type(test) is ast.Attribute and test.attr == "is_cuda":
            name = N.dotted(test.value)
            return (set(), {name}, not holds) if name else None
        if type(test) is not ast.Compare or len(test.ops) != 1:
            return None
        operator = type(test.ops[0])
        if operator is ast.NotEq or operator is ast.IsNot:
            holds = not holds
        elif not (operator is ast.Eq or operator is ast.Is):
            return None
        left, right = test.left, test.comparators[0]
        if self.is_cpu_device(right, scope):
            side = left
        elif self.is_cpu_device(left, scope):
            side = right
        else:
            return None
        if type(side) is ast.Attribute and side.attr == "type":
            side = side.value  # `device.type == "cpu"`
        text = N.dotted(side)
        if text is None:
            return None
        atoms, names = {f"sym:{text}"}, set()
        if text.endswith(".device"):
            names.add(text[: -len(".device")])  # `x.device == "cpu"`: the tensor x
        known = self.lookup(text, scope)
        if known is not None and known.kind is Kind.DEVICE:
            atoms |= {a for a in known.device if a.startswith("sym:")}
        return atoms, names, holds

    def is_cpu_device(self, node: ast.expr, scope: Scope) -> bool:
        """`"cpu"`, `torch.device("cpu")`, or a name bound to the CPU device only."""
        if N.string_value(node) == "cpu":
            return True
        if type(node) is ast.Call and args_of(node):
            return (
                self.imports.qualify(node.func) == "torch.device"
                and N.string_value(args_of(node)[0].value) == "cpu"
            )
        key = N.dotted(node)
        known = self.lookup(key, scope) if key is not None else None
        return known is not None and known.kind is Kind.DEVICE and is_cpu(known.device)

    @staticmethod
    def refine_to_cpu(
        scope: Scope, atoms: set[str], names: set[str]
    ) -> dict[str, tuple[Value, Value]]:
        """In a branch where `atoms`' devices and the tensors `names` are the CPU; returns
        key -> (value before, refined value), for `unrefine`."""
        refined = {}
        for key, value in list(scope.env.items()):
            if key in names and value.kind is Kind.TENSOR:
                new = replace(value, device=DEV_CPU)
            elif value.device & atoms:
                new = replace(value, device=(value.device - atoms) | DEV_CPU)
            else:
                continue
            scope.env[key] = new
            refined[key] = (value, new)
        return refined

    @staticmethod
    def unrefine(scope: Scope, refined: dict[str, tuple[Value, Value]]) -> None:
        """The branch is over: what it learnt was knowledge, not a move, so values it did
        not rebind are what they were before the test."""
        for key, (before, new) in refined.items():
            if scope.env.get(key) is new:
                scope.env[key] = before

    def walk_match(self, stmt: ast.stmt, scope: Scope) -> bool:
        self.eval(stmt.subject, scope)
        before = dict(scope.env)
        envs = []
        for case in stmt.cases:
            scope.env = dict(before)
            self.walk_block(case.body, scope)
            envs.append(scope.env)
        env = before
        for e in envs:
            env = self.join_envs(env, e, False)
        scope.env = env
        return True

    def join_envs(
        self, a: dict[str, Value], b: dict[str, Value], device_test: bool
    ) -> dict[str, Value]:
        # keys in a fixed order (a's, then b's own): what is looked up by scanning the
        # environment (the device variable a help text names) must not depend on hashing
        join = self.join_guarded if device_test else join_values
        out: dict[str, Value] = {}
        for key, va in a.items():
            vb = b.get(key)
            out[key] = va if vb is None else join(va, vb)
        for key, vb in b.items():
            if key not in a:
                out[key] = vb
        return out

    @staticmethod
    def join_guarded(a: Value, b: Value) -> Value:
        """Join after `if <device check>`: CPU on one side, a device on the other is the
        usual "accelerator when available" device, not a maybe-mismatch.  A module that
        moves its inputs on the accelerator side (`nn.DataParallel(model.cuda())`) still
        does: on the CPU side module and inputs are both on the CPU."""
        joined = join_values(a, b)
        if partly_cpu(joined.device):
            placed = [v for v in (a, b) if is_placed(v.device) and not partly_cpu(v.device)]
            moves = joined.moves_inputs or (len(placed) == 1 and placed[0].moves_inputs)
            return replace(
                joined, device=sym("auto"), origin=Origin.NONE, site=None, moves_inputs=moves
            )
        return joined

    def walk_for(self, stmt: ast.For, scope: Scope) -> None:
        iterable = self.eval(stmt.iter, scope)
        elem = self.element_of(iterable, stmt.iter, scope)
        targets = frozenset(target_names(stmt.target))
        if iterable.type_name == HEURISTIC_LOADER:
            self.heuristic_sites.add(id(stmt.target))
        scope.loops.append(LoopInfo(targets, stmt.body[0]))  # a body is never empty
        self.run_loop(
            lambda: (
                self.bind(stmt.target, elem, scope, site=stmt.target),
                self.walk_block(stmt.body, scope),
            ),
            scope,
        )
        scope.loops.pop()
        if stmt.orelse:
            self.walk_block(stmt.orelse, scope)

    def walk_while(self, stmt: ast.While, scope: Scope) -> None:
        scope.loops.append(LoopInfo(frozenset()))
        self.run_loop(
            lambda: (self.eval(stmt.test, scope), self.walk_block(stmt.body, scope)), scope
        )
        scope.loops.pop()
        if stmt.orelse:
            self.walk_block(stmt.orelse, scope)

    def run_loop(self, body, scope: Scope) -> None:
        """Run a loop body until the environment stops changing (at most a few passes)."""
        entry = dict(scope.env)
        current = entry
        for _ in range(MAX_LOOP_PASSES):
            scope.env = dict(current)
            body()
            joined = self.join_envs(current, scope.env, False)
            if joined == current:
                break
            current = joined
        scope.env = current

    def walk_with(self, stmt: ast.With, scope: Scope) -> bool:
        saved_default, saved_report = scope.default_device, scope.report
        for item in stmt.items:
            expr = item.context_expr
            is_call = type(expr) is ast.Call
            if is_call and (N.dotted(expr.func) or "").rsplit(".", 1)[-1] in (
                "raises",
                "assertRaises",
                "assertRaisesRegex",
            ):
                # `with pytest.raises(RuntimeError):` the block is meant to fail
                scope.report = False
            q = self.imports.qualify(expr.func) if is_call else None
            value = self.eval(expr, scope)
            if q == "torch.device" and is_call:
                scope.default_device = value.device if value.kind is Kind.DEVICE else DEV_UNKNOWN
            elif value.kind is Kind.DEVICE and type(expr) in (ast.Name, ast.Attribute):
                # `with device:` (a torch.device variable) sets the default device too
                scope.default_device = value.device
            if item.optional_vars is not None:
                self.bind(item.optional_vars, value if q != "builtins.open" else UNKNOWN, scope)
        falls = self.walk_block(stmt.body, scope)
        scope.default_device, scope.report = saved_default, saved_report
        return falls

    def walk_try(self, stmt: ast.Try, scope: Scope) -> bool:
        before = dict(scope.env)
        body_falls = self.walk_block(stmt.body, scope)
        if stmt.orelse and body_falls:
            body_falls = self.walk_block(stmt.orelse, scope)
        env = scope.env
        any_falls = body_falls
        for handler in stmt.handlers:
            scope.env = self.join_envs(before, env, False)
            if handler.name is not None:
                self.bind(ast.Name(id=handler.name), UNKNOWN, scope)
            if self.walk_block(handler.body, scope):
                env = self.join_envs(env, scope.env, False) if any_falls else scope.env
                any_falls = True
        scope.env = env
        if stmt.finalbody:
            self.walk_block(stmt.finalbody, scope)
        return any_falls

    # ------------------------------------------------------------------ binding
    def bind(
        self,
        target: ast.expr,
        value: Value,
        scope: Scope,
        site: Optional[ast.AST] = None,
    ) -> None:
        if value.kind is Kind.DEVICE and value.device == sym("auto"):
            # `device = torch.device("cuda" if ... else "cpu")`: from here on this device is
            # "the value of `device`", which messages and fixes can name
            key = N.dotted(target)
            if key is not None:
                value = replace(value, device=sym(key))
        cls = type(target)
        if cls is ast.Name:
            if value.origin is Origin.LOADER and site is not None:
                value = replace(value, site=site)
            scope.env[target.id] = value
            # rebinding `x` forgets what we knew about `x.attr`
            prefix = target.id + "."
            for key in [k for k in scope.env if k.startswith(prefix)]:
                del scope.env[key]
        elif cls is ast.Attribute:
            key = N.dotted(target)
            if key is None:
                self.eval(target.value, scope)
                return
            if (
                key.startswith("self.")
                and key.count(".") == 1
                and scope.func is not None
                and scope.func.name == "__init__"
                and scope.cls is not None
            ):
                value = self.init_attr_value(key, value, target, scope)
            scope.env[key] = value
        elif cls is ast.Tuple or cls is ast.List:
            elements = target.elts
            parts = self.unpack(value, len(elements))
            for element, part in zip(elements, parts):
                if type(element) is ast.Starred:
                    self.bind(element.value, UNKNOWN, scope)
                else:
                    self.bind(element, part, scope, site=site)
        elif cls is ast.Subscript:
            base_key = N.dotted(target.value)
            key = subscript_key(target)
            if base_key is not None and base_key in scope.env:
                base = scope.env[base_key]
                if base.kind is Kind.BATCH and key is not None and base.entries is not None:
                    entries = dict(base.entries)
                    entries[key] = value
                    scope.env[base_key] = replace(
                        base,
                        entries=tuple(entries.items()),
                        device=container_device([*entries.values()]),
                    )
                elif base.kind is Kind.BATCH and key is None:
                    scope.env[base_key] = Value(Kind.BATCH, value.device, elem=value)
                elif base.kind is Kind.BATCH and base.origin is Origin.LOADER:
                    # `batch["x"] = batch["x"].to(device)`: the batch is now partly moved
                    scope.env[base_key] = replace(
                        base,
                        entries=((key, value),),
                        elem=base.elem or tensor(base.device, origin=base.origin, site=base.site),
                    )
        elif cls is ast.Starred:
            self.bind(target.value, UNKNOWN, scope)

    def init_attr_value(self, key: str, value: Value, target: ast.AST, scope: Scope) -> Value:
        """`self.x = value` in `__init__`: plain tensors do not follow the module."""
        assert scope.cls is not None
        if not scope.cls.is_module:
            return value
        if scope.cls.defines_to:
            # a custom `_apply`/`to` moves the module's plain tensors too
            return tensor(sym("self"), scalar=value.scalar) if value.kind is Kind.TENSOR else value
        if value.kind is Kind.TENSOR and value.type_name == LAYER_PARAMETER:
            # `self.w = in_proj.weight`: nn.Module registers a Parameter it is given
            return tensor(sym("self"), scalar=False, requires_grad=True)
        if value.kind is Kind.TENSOR and is_cpu(value.device) and value.scalar is False:
            return replace(value, origin=Origin.PLAIN_ATTR, site=target)
        if value.kind is Kind.BATCH and value.elems is not None:
            # `self.hidden = (torch.zeros(...), torch.zeros(...))`
            elems = tuple(
                replace(e, origin=Origin.PLAIN_ATTR, site=target)
                if e.kind is Kind.TENSOR and is_cpu(e.device) and e.scalar is False
                else e
                for e in value.elems
            )
            return replace(value, elems=elems)
        return value

    def unpack(self, value: Value, n: int) -> list[Value]:
        if value.elems is not None and len(value.elems) == n:
            return list(value.elems)
        if value.kind in (Kind.BATCH, Kind.TENSOR) and is_known(value.device):
            el = value.elem or tensor(value.device, origin=value.origin, site=value.site)
            if value.entries is not None and value.elem is None:
                return [UNKNOWN] * n
            return [el] * n
        return [UNKNOWN] * n


def analyze(module: ast.Module, source: str, device_names: Sequence[str] = ()) -> FileFacts:
    """Compute the device facts of one parsed file (`source`: its text, if at hand;
    `device_names`: extra variable names that hold the target device).

    The walk recurses along nested expressions; generated code nests deeper than
    Python's default limit allows, so such a file is analysed again in a thread with a
    large stack and a high recursion limit.  RecursionError escapes only beyond that."""
    try:
        return Analyzer(module, source, device_names).run()
    except RecursionError:
        return _analyze_deep(module, source, device_names)


DEEP_STACK_BYTES = 512 * 1024 * 1024
DEEP_RECURSION_LIMIT = 200_000


def _analyze_deep(module: ast.Module, source: str, device_names: Sequence[str]) -> FileFacts:
    outcome: dict[str, object] = {}

    def target() -> None:
        old_limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(old_limit, DEEP_RECURSION_LIMIT))
        try:
            outcome["facts"] = Analyzer(module, source, device_names).run()
        except RecursionError as exc:
            outcome["error"] = exc
        finally:
            sys.setrecursionlimit(old_limit)

    old_size = threading.stack_size()
    threading.stack_size(DEEP_STACK_BYTES)
    try:
        worker = threading.Thread(target=target, name="devlint-deep-analysis")
        worker.start()
        worker.join()
    finally:
        threading.stack_size(old_size)
    if "facts" in outcome:
        return outcome["facts"]  # type: ignore[return-value]
    raise RecursionError("file is nested too deeply to analyse")


_MATCH = getattr(ast, "Match", None)
# simple statements, by class (`ast.Delete`, `pass`, imports... need nothing)
_SMALL = {
    ast.Assign: Analyzer.walk_assign,
    ast.AnnAssign: Analyzer.walk_ann_assign,
    ast.AugAssign: Analyzer.walk_aug_assign,
    ast.Expr: Analyzer.eval_statement_expr,
    ast.Return: Analyzer.walk_return,
    ast.Raise: Analyzer.walk_raise,
    ast.Assert: Analyzer.walk_assert,
}
