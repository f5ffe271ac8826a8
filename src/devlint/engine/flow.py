"""The flow-sensitive device analysis.

An abstract interpreter over LibCST nodes: it walks each scope statement by statement,
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
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import Iterable, Iterator, Optional, Sequence

import libcst as cst

from devlint.engine import names as N
from devlint.engine.facts import (
    Cause,
    Context,
    DiscardedMove,
    FileFacts,
    HardcodedDevice,
    LoadCall,
    Mismatch,
    NumpyCall,
    Operand,
)
from devlint.engine.values import (
    ANY,
    DEV_ANY,
    DEV_CPU,
    DEV_UNKNOWN,
    OTHER,
    UNKNOWN,
    Device,
    Kind,
    Origin,
    Value,
    is_cpu,
    is_known,
    is_placed,
    is_weak,
    join_devices,
    join_values,
    partly_cpu,
    sym,
    tensor,
)
from devlint.engine.walk import iter_children, walk

MAX_LOOP_PASSES = 3
HEURISTIC_LOADER = "<loader by name>"
CPU_SIDE_BASES = ("Dataset", "Sampler", "DataLoader", "Loader", "Transform")
MAX_CALL_DEPTH = 3


@dataclass
class ClassInfo:
    node: cst.ClassDef
    name: str
    bases: list[str]
    is_module: bool = False
    defines_to: bool = False
    # forward() moves its inputs to the module's device itself
    moves_inputs: bool = False
    # `self.x` attributes that methods other than __init__ rebind, or move
    rebound: set[str] = field(default_factory=set)
    moved: set[str] = field(default_factory=set)
    # runs on the CPU by construction (datasets, samplers): parameters are not symbolic
    cpu_side: bool = False
    methods: dict[str, cst.FunctionDef] = field(default_factory=dict)
    # self attributes after __init__, computed on demand
    attrs: Optional[dict[str, Value]] = None


@dataclass
class LoopInfo:
    is_batch_loop: bool
    targets: frozenset[str]


@dataclass
class Scope:
    """The state of one analysis of one scope (module, function or method)."""

    env: dict[str, Value]
    report: bool
    func: Optional[cst.FunctionDef] = None
    cls: Optional[ClassInfo] = None
    globals: Optional[dict[str, Value]] = None
    loops: list[LoopInfo] = field(default_factory=list)
    guard: int = 0  # > 0 inside a device-availability check
    guarded_rest: bool = False  # an early exit made the rest of the scope guarded
    returns: list[Value] = field(default_factory=list)
    default_device: Optional[Device] = None  # inside `with torch.device(...)`
    depth: int = 0
    receives_tensors: bool = False

    @property
    def guarded(self) -> bool:
        return self.guard > 0 or self.guarded_rest


class Analyzer:
    def __init__(
        self,
        module: cst.Module,
        source: Optional[str] = None,
        device_names: Sequence[str] = (),
    ) -> None:
        # extra names (`[tool.devlint] device-names`) that hold the target device
        self.device_names = frozenset(device_names)
        self.module = module
        self.facts = FileFacts(module=module)
        self.imports = N.ImportMap()
        self.imports.collect(module.body)
        self.classes: dict[str, ClassInfo] = {}
        self.functions: dict[str, cst.FunctionDef] = {}
        self._oids = itertools.count(1)
        self._seen: set[tuple] = set()
        self.module_env: dict[str, Value] = {}
        code = source if source is not None else module.code
        # Facts whose partner is only a parameter's device count when the file itself
        # places something on an accelerator (set during the walk, applied at the end).
        self.placed_seen = False
        # loop targets over loaders known only by name, and those whose batches get moved
        self.heuristic_sites: set[int] = set()
        self.moved_sites: set[int] = set()
        self._conditions: dict[int, bool] = {}
        self.module_guarded = False
        self._pending: list[tuple[list, object]] = []
        self.collate_moves = _collate_moves(module)
        self.default_device_changed = "set_default_device" in code
        self._in_progress: set[int] = set()
        self._collect_defs(module.body)

    # ------------------------------------------------------------------ set-up
    def _collect_defs(self, body: Sequence[cst.CSTNode]) -> None:
        for stmt in body:
            if isinstance(stmt, cst.FunctionDef):
                self.functions[stmt.name.value] = stmt
            elif isinstance(stmt, cst.ClassDef):
                bases = [self.imports.qualify(b.value) or "" for b in stmt.bases]
                info = ClassInfo(stmt, stmt.name.value, bases)
                for item in stmt.body.body:
                    if isinstance(item, cst.FunctionDef):
                        info.methods[item.name.value] = item
                info.defines_to = "to" in info.methods or "_apply" in info.methods
                info.rebound, info.moved = _mutated_self_attrs(info.methods)

                self.classes[info.name] = info
            elif isinstance(stmt, (cst.If, cst.Try)):
                self._collect_defs(stmt.body.body)
        for info in self.classes.values():
            info.cpu_side = self._is_cpu_side_class(info, set())
        for info in self.classes.values():
            info.is_module = self._is_module_class(info, set())
            forward = info.methods.get("forward")
            if info.is_module and forward is not None:
                info.moves_inputs = _moves_params(forward)
        self.some_module_moves_inputs = any(c.moves_inputs for c in self.classes.values())
        # methods that constructors call: they run while the module is still on the CPU
        self.called_in_init: set[str] = set()
        for info in self.classes.values():
            init = info.methods.get("__init__")
            if info.is_module and init is not None:
                self.called_in_init |= _called_method_names(init)

    def _is_cpu_side_class(self, info: ClassInfo, seen: set[str]) -> bool:
        """Datasets, samplers, loaders and transforms run in the data pipeline, on the CPU."""
        seen.add(info.name)
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

    def text(self, node: cst.CSTNode) -> str:
        return self.facts.text(node)

    def is_device_name(self, name: str) -> bool:
        """`device`, `args.device`, `self.dev`, or a name the configuration declares."""
        return (
            N.is_device_name(name)
            or name in self.device_names
            or (name.rsplit(".", 1)[-1] in self.device_names)
        )

    def is_device_condition(self, node: cst.CSTNode) -> bool:
        """A test that checks which device is available or in use (`torch.cuda.is_available()`,
        `args.cuda`, `device.type == "cuda"`): code under it is guarded."""
        key = id(node)
        known = self._conditions.get(key)
        if known is None:
            known = any(N.DEVICE_CONDITION_RE.search(n) for n in _names_in(node))
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
        if self.placed_seen:
            for target, fact in self._pending:
                target.append(fact)
        return self.facts

    def add_fact(self, target: list, fact: object, needs_placement: bool) -> None:
        if needs_placement:
            self._pending.append((target, fact))
        else:
            target.append(fact)

    # ------------------------------------------------------------------ functions
    def param_values(
        self, func: cst.FunctionDef, cls: Optional[ClassInfo], scope: Scope
    ) -> dict[str, Value]:
        """Symbolic values for parameters: tensors live wherever the caller's tensors do."""
        env: dict[str, Value] = {}
        fname = func.name.value
        if (cls is not None and cls.cpu_side) or "collate" in fname or "transform" in fname:
            return {p.name.value: UNKNOWN for p in func.params.params}
        used_as_tensor = _tensor_uses(func)
        if cls is not None and cls.is_module and func.name.value == "forward":
            # a module's inputs are tensors by convention
            used_as_tensor |= {p.name.value for p in func.params.params if p.default is None}
        params = [*func.params.posonly_params, *func.params.params, *func.params.kwonly_params]
        for i, p in enumerate(params):
            name = p.name.value
            if i == 0 and cls is not None and name in ("self", "cls"):
                continue
            self.check_device_default(p, scope)
            env[name] = self.param_value(name, p, used_as_tensor)
        return env

    def param_value(self, name: str, p: cst.Param, used_as_tensor: set[str]) -> Value:
        ann = self.text(p.annotation.annotation) if p.annotation is not None else ""
        if self.is_device_name(name) or ann in ("torch.device", "device"):
            return Value(Kind.DEVICE, sym(name))
        if "Tensor" in ann and "Dict" not in ann and "List" not in ann and "dict" not in ann:
            return tensor(sym(f"param:{name}"), origin=Origin.PARAM, scalar=None)
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
        return UNKNOWN

    def check_device_default(self, p: cst.Param, scope: Scope) -> None:
        """`def f(device="cuda")`: a finding only when the body places data with it
        (`torch.get_autocast_dtype("cuda")`-style device *types* fail nowhere)."""
        if p.default is None or not self.is_device_name(p.name.value):
            return
        lit = N.accelerator_literal(p.default)
        if lit is None and isinstance(p.default, cst.Call):
            q = self.imports.qualify(p.default.func)
            if q == "torch.device" and p.default.args:
                lit = N.accelerator_literal(p.default.args[0].value)
        if (
            lit is not None
            and scope.report
            and (scope.func is None or _places_with(scope.func, p.name.value))
        ):
            self.add_hardcoded(
                p.default, f"{p.name.value}={self.text(p.default)}", "default", scope
            )

    def analyze_function(
        self,
        func: cst.FunctionDef,
        cls: Optional[ClassInfo],
        report: bool,
        args: Optional[dict[str, Value]] = None,
        self_value: Optional[Value] = None,
        depth: int = 0,
    ) -> Scope:
        scope = Scope(env={}, report=report, func=func, cls=cls, depth=depth)
        scope.globals = self.module_env
        if self.module_guarded or any(
            self.is_device_condition(d.decorator) for d in func.decorators
        ):
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
        self.walk_block(func.body.body if isinstance(func.body, cst.IndentedBlock) else [], scope)
        return scope

    def self_value(self, cls: ClassInfo, func: Optional[cst.FunctionDef] = None) -> Value:
        if cls.is_module:
            # during __init__ nothing has been moved yet: the module is on the CPU
            in_init = func is not None and (
                func.name.value == "__init__" or func.name.value in self.called_in_init
            )
            return Value(Kind.MODULE, DEV_CPU if in_init else sym("self"), type_name=cls.name)
        return Value(Kind.OTHER, DEV_ANY, type_name=cls.name)

    def self_attrs(self, cls: ClassInfo, func: cst.FunctionDef) -> dict[str, Value]:
        """What `self.x` holds when a method other than `__init__` starts."""
        if func.name.value == "__init__":
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
    def walk_block(self, body: Iterable[cst.CSTNode], scope: Scope) -> bool:
        """Walk statements; returns False when the block certainly exits (return/raise)."""
        return all(self.walk_stmt(stmt, scope) for stmt in body)

    def walk_stmt(self, stmt: cst.CSTNode, scope: Scope) -> bool:
        if isinstance(stmt, cst.SimpleStatementLine):
            return all(self.walk_small(small, stmt, scope) for small in stmt.body)
        if isinstance(stmt, cst.If):
            return self.walk_if(stmt, scope)
        if isinstance(stmt, (cst.For,)):
            self.walk_for(stmt, scope)
            return True
        if isinstance(stmt, cst.While):
            self.walk_while(stmt, scope)
            return True
        if isinstance(stmt, cst.With):
            return self.walk_with(stmt, scope)
        if isinstance(stmt, cst.Try):
            return self.walk_try(stmt, scope)
        if isinstance(stmt, cst.FunctionDef):
            if scope.func is not None:
                # nested function: analysed standalone later only for module-level defs;
                # analyse nested ones now, with the enclosing environment as globals
                inner = Scope(env={}, report=scope.report, func=stmt, cls=None)
                inner.globals = {**(scope.globals or {}), **scope.env}
                inner.env.update(self.param_values(stmt, None, inner))
                if isinstance(stmt.body, cst.IndentedBlock):
                    self.walk_block(stmt.body.body, inner)
            return True
        if isinstance(stmt, cst.ClassDef):
            return True
        if isinstance(stmt, cst.Match):
            return self.walk_match(stmt, scope)
        return True

    def walk_small(self, small: cst.BaseSmallStatement, line: cst.CSTNode, scope: Scope) -> bool:
        if isinstance(small, cst.Assign):
            if any(N.dotted(t.target) == "pytestmark" for t in small.targets) and (
                self.is_device_condition(small.value)
            ):
                scope.guarded_rest = True
            lit = N.accelerator_literal(small.value)
            if lit is not None and any(
                self.is_device_name(N.dotted(t.target) or "") for t in small.targets
            ):
                self.add_hardcoded(small.value, repr(lit), "literal", scope)
            value = self.eval(small.value, scope)
            for target in small.targets:
                self.bind(target.target, value, scope)
        elif isinstance(small, cst.AnnAssign):
            if small.value is not None:
                self.bind(small.target, self.eval(small.value, scope), scope)
        elif isinstance(small, cst.AugAssign):
            left = self.eval(small.target, scope)
            right = self.eval(small.value, scope)
            result = self.combine(
                small,
                [(small.target, left), (small.value, right)],
                scope,
                op_text=self.text(small.operator).strip() or "op",
            )
            self.bind(small.target, result, scope)
        elif isinstance(small, cst.Expr):
            return self.eval_statement_expr(small, line, scope)
        elif isinstance(small, cst.Return):
            scope.returns.append(self.eval(small.value, scope) if small.value else OTHER)
            return False
        elif isinstance(small, cst.Raise):
            if small.exc is not None:
                self.eval(small.exc, scope)
            return False
        elif isinstance(small, cst.Assert):
            self.eval(small.test, scope)
            if self.is_device_condition(small.test):
                scope.guarded_rest = True
        elif isinstance(small, cst.Del):
            pass
        return True

    def eval_statement_expr(self, small: cst.Expr, line: cst.CSTNode, scope: Scope) -> bool:
        """Evaluate an expression statement; False when it ends the scope (`sys.exit()`)."""
        expr = small.value
        if (
            isinstance(expr, cst.Call)
            and isinstance(expr.func, cst.Attribute)
            and expr.func.attr.value in ("to", "cuda", "cpu")
        ):
            self.eval_move(expr, scope, statement=line)
            return True
        self.eval(expr, scope)
        return not (isinstance(expr, cst.Call) and _is_exit_call(expr))

    # -- compound statements
    def walk_if(self, stmt: cst.If, scope: Scope) -> bool:
        self.eval(stmt.test, scope)
        device_test = self.is_device_condition(stmt.test)
        before = dict(scope.env)
        if device_test:
            scope.guard += 1
        body_falls = self.walk_block(stmt.body.body, scope)
        if device_test:
            scope.guard -= 1
        body_env = scope.env
        scope.env = dict(before)
        else_falls = True
        if stmt.orelse is not None:
            if device_test:
                scope.guard += 1
            if isinstance(stmt.orelse, cst.If):
                else_falls = self.walk_if(stmt.orelse, scope)
            else:
                else_falls = self.walk_block(stmt.orelse.body.body, scope)
            if device_test:
                scope.guard -= 1
        else_env = scope.env
        if device_test and not body_falls and stmt.orelse is None:
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

    def walk_match(self, stmt: cst.Match, scope: Scope) -> bool:
        self.eval(stmt.subject, scope)
        before = dict(scope.env)
        envs = []
        for case in stmt.cases:
            scope.env = dict(before)
            self.walk_block(case.body.body, scope)
            envs.append(scope.env)
        env = before
        for e in envs:
            env = self.join_envs(env, e, False)
        scope.env = env
        return True

    def join_envs(
        self, a: dict[str, Value], b: dict[str, Value], device_test: bool
    ) -> dict[str, Value]:
        out: dict[str, Value] = {}
        for key in a.keys() | b.keys():
            va, vb = a.get(key), b.get(key)
            if va is None or vb is None:
                out[key] = UNKNOWN if (va or vb) is None else (va or vb)  # type: ignore[assignment]
                if va is None or vb is None:
                    v = va or vb
                    out[key] = v if v is not None else UNKNOWN
                continue
            out[key] = self.join_guarded(va, vb) if device_test else join_values(va, vb)
        return out

    @staticmethod
    def join_guarded(a: Value, b: Value) -> Value:
        """Join after `if <device check>`: CPU on one side, a device on the other is the
        usual "accelerator when available" device, not a maybe-mismatch."""
        joined = join_values(a, b)
        if partly_cpu(joined.device):
            return replace(joined, device=sym("auto"), origin=Origin.NONE, site=None)
        return joined

    def walk_for(self, stmt: cst.For, scope: Scope) -> None:
        iterable = self.eval(stmt.iter, scope)
        elem = self.element_of(iterable, stmt.iter, scope)
        is_batch = iterable.kind is Kind.LOADER or (
            iterable.elem is not None and _contains_loader_elem(iterable.elem)
        )
        targets = frozenset(_target_names(stmt.target))
        if iterable.type_name == HEURISTIC_LOADER:
            self.heuristic_sites.add(id(stmt.target))
        scope.loops.append(LoopInfo(is_batch, targets))
        self.run_loop(
            lambda: (
                self.bind(stmt.target, elem, scope, site=stmt.target),
                self.walk_block(stmt.body.body, scope),
            ),
            scope,
        )
        scope.loops.pop()
        if stmt.orelse is not None:
            self.walk_block(stmt.orelse.body.body, scope)

    def walk_while(self, stmt: cst.While, scope: Scope) -> None:
        scope.loops.append(LoopInfo(False, frozenset()))
        self.run_loop(
            lambda: (self.eval(stmt.test, scope), self.walk_block(stmt.body.body, scope)), scope
        )
        scope.loops.pop()
        if stmt.orelse is not None:
            self.walk_block(stmt.orelse.body.body, scope)

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

    def walk_with(self, stmt: cst.With, scope: Scope) -> bool:
        saved_default = scope.default_device
        for item in stmt.items:
            q = self.imports.qualify(item.item.func) if isinstance(item.item, cst.Call) else None
            value = self.eval(item.item, scope)
            if q == "torch.device" and isinstance(item.item, cst.Call):
                scope.default_device = value.device if value.kind is Kind.DEVICE else DEV_UNKNOWN
            if item.asname is not None:
                self.bind(item.asname.name, value if q != "builtins.open" else UNKNOWN, scope)
        falls = self.walk_block(stmt.body.body, scope)
        scope.default_device = saved_default
        return falls

    def walk_try(self, stmt: cst.Try, scope: Scope) -> bool:
        before = dict(scope.env)
        body_falls = self.walk_block(stmt.body.body, scope)
        if stmt.orelse is not None and body_falls:
            body_falls = self.walk_block(stmt.orelse.body.body, scope)
        env = scope.env
        any_falls = body_falls
        for handler in stmt.handlers:
            scope.env = self.join_envs(before, env, False)
            if handler.name is not None:
                self.bind(handler.name.name, UNKNOWN, scope)
            if self.walk_block(handler.body.body, scope):
                env = self.join_envs(env, scope.env, False) if any_falls else scope.env
                any_falls = True
        scope.env = env
        if stmt.finalbody is not None:
            self.walk_block(stmt.finalbody.body.body, scope)
        return any_falls

    # ------------------------------------------------------------------ binding
    def bind(
        self,
        target: cst.BaseExpression,
        value: Value,
        scope: Scope,
        site: Optional[cst.CSTNode] = None,
    ) -> None:
        if isinstance(target, cst.Name):
            if value.origin is Origin.LOADER and site is not None:
                value = replace(value, site=site)
            scope.env[target.value] = value
            # rebinding `x` forgets what we knew about `x.attr`
            prefix = target.value + "."
            for key in [k for k in scope.env if k.startswith(prefix)]:
                del scope.env[key]
        elif isinstance(target, cst.Attribute):
            key = N.dotted(target)
            if key is None:
                self.eval(target.value, scope)
                return
            if (
                key.startswith("self.")
                and key.count(".") == 1
                and scope.func is not None
                and scope.func.name.value == "__init__"
                and scope.cls is not None
            ):
                value = self.init_attr_value(key, value, target, scope)
            scope.env[key] = value
        elif isinstance(target, (cst.Tuple, cst.List)):
            elements = [e for e in target.elements]
            parts = self.unpack(value, len(elements))
            for element, part in zip(elements, parts):
                if isinstance(element, cst.StarredElement):
                    self.bind(element.value, UNKNOWN, scope)
                else:
                    self.bind(element.value, part, scope, site=site)
        elif isinstance(target, cst.Subscript):
            base_key = N.dotted(target.value)
            key = _subscript_key(target)
            if base_key is not None and base_key in scope.env:
                base = scope.env[base_key]
                if base.kind is Kind.BATCH and key is not None and base.entries is not None:
                    entries = dict(base.entries)
                    entries[key] = value
                    scope.env[base_key] = replace(
                        base,
                        entries=tuple(entries.items()),
                        device=_container_device([*entries.values()]),
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
        elif isinstance(target, cst.StarredElement):
            self.bind(target.value, UNKNOWN, scope)

    def init_attr_value(self, key: str, value: Value, target: cst.CSTNode, scope: Scope) -> Value:
        """`self.x = value` in `__init__`: plain tensors do not follow the module."""
        assert scope.cls is not None
        if not scope.cls.is_module:
            return value
        if scope.cls.defines_to:
            # a custom `_apply`/`to` moves the module's plain tensors too
            return tensor(sym("self"), scalar=value.scalar) if value.kind is Kind.TENSOR else value
        if value.kind is Kind.TENSOR and is_cpu(value.device) and value.scalar is False:
            return replace(value, origin=Origin.PLAIN_ATTR, site=target)
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

    # ------------------------------------------------------------------ expressions
    def eval(self, node: Optional[cst.BaseExpression], scope: Scope) -> Value:
        if node is None:
            return UNKNOWN
        method = getattr(self, "eval_" + type(node).__name__, None)
        if method is None:
            for child in iter_children(node):
                if isinstance(child, cst.BaseExpression):
                    self.eval(child, scope)
            return UNKNOWN
        return method(node, scope)

    def lookup(self, key: str, scope: Scope) -> Optional[Value]:
        if key in scope.env:
            return scope.env[key]
        if scope.globals is not None and key in scope.globals:
            return scope.globals[key]
        return None

    def eval_Name(self, node: cst.Name, scope: Scope) -> Value:
        found = self.lookup(node.value, scope)
        if found is not None:
            return found
        name = node.value
        if name in ("True", "False", "None"):
            return OTHER
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

    def eval_Integer(self, node: cst.CSTNode, scope: Scope) -> Value:
        return OTHER

    eval_Float = eval_Integer
    eval_Imaginary = eval_Integer

    def eval_SimpleString(self, node: cst.SimpleString, scope: Scope) -> Value:
        """Device strings are device values (`device = "cpu"`); other strings are not."""
        s = N.string_value(node)
        if s == "cpu":
            return Value(Kind.DEVICE, DEV_CPU)
        lit = N.accelerator_literal(node)
        if lit is not None:
            return Value(Kind.DEVICE, frozenset({lit}))
        return OTHER

    eval_ConcatenatedString = eval_Integer

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
                return tensor(base.device, scalar=False, requires_grad=True)
            return UNKNOWN
        if base.kind is Kind.BATCH and base.origin is Origin.LOADER and base.entries is None:
            return tensor(base.device, origin=base.origin, site=base.site, scalar=None)
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
            only_slices = all(not isinstance(el.slice, cst.Index) for el in node.slice)
            return replace(base, scalar=base.scalar if only_slices else None)
        if base.kind is Kind.BATCH:
            key = _subscript_key(node)
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
            if base.entries is None and base.elems is None and is_known(base.device):
                return tensor(base.device, origin=base.origin, site=base.site, scalar=None)
            return UNKNOWN
        if base.kind is Kind.MODULE:
            return Value(Kind.MODULE, base.device)
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
            _container_device(values),
            elems=tuple(values),
            origin=_common_origin(values),
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
        return Value(Kind.BATCH, _container_device([v for _, v in entries]), entries=tuple(entries))

    def _comprehension(
        self, node: cst.CSTNode, scope: Scope, elt_nodes: Sequence[cst.BaseExpression]
    ) -> list[Value]:
        saved = dict(scope.env)
        comp = node.for_in  # type: ignore[attr-defined]
        while comp is not None:
            it = self.eval(comp.iter, scope)
            self.bind(comp.target, self.element_of(it, comp.iter, scope), scope)
            for cond in comp.ifs:
                self.eval(cond.test, scope)
            comp = comp.inner_for_in
        values = [self.eval(e, scope) for e in elt_nodes]
        scope.env = saved
        return values

    def eval_ListComp(self, node: cst.ListComp, scope: Scope) -> Value:
        (v,) = self._comprehension(node, scope, [node.elt])
        return Value(
            Kind.BATCH,
            v.device if v.kind is Kind.TENSOR else DEV_UNKNOWN,
            elem=v,
            origin=v.origin if v.origin is Origin.LOADER else Origin.NONE,
        )

    eval_GeneratorExp = eval_ListComp
    eval_SetComp = eval_ListComp

    def eval_DictComp(self, node: cst.DictComp, scope: Scope) -> Value:
        _, v = self._comprehension(node, scope, [node.key, node.value])
        return Value(
            Kind.BATCH,
            v.device if v.kind is Kind.TENSOR else DEV_UNKNOWN,
            elem=v,
            entries=None,
            origin=v.origin if v.origin is Origin.LOADER else Origin.NONE,
        )

    def eval_IfExp(self, node: cst.IfExp, scope: Scope) -> Value:
        self.eval(node.test, scope)
        device_test = self.is_device_condition(node.test)
        if device_test:
            scope.guard += 1
        a = self.eval(node.body, scope)
        b = self.eval(node.orelse, scope)
        if device_test:
            scope.guard -= 1
            # `torch.device("cuda" if torch.cuda.is_available() else "cpu")`
            if _is_device_expr(node.body, a) and _is_device_expr(node.orelse, b):
                return Value(Kind.DEVICE, sym("auto"))
            return self.join_guarded(a, b)
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
            return OTHER
        return v

    def eval_BooleanOperation(self, node: cst.BooleanOperation, scope: Scope) -> Value:
        a = self.eval(node.left, scope)
        b = self.eval(node.right, scope)
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
        if any(
            isinstance(t.operator, (cst.In, cst.NotIn, cst.Is, cst.IsNot)) for t in node.comparisons
        ):
            return OTHER
        op = self.text(node.comparisons[0].operator).strip()
        result = self.combine(node, operands, scope, op_text=op)
        return result if result.kind is Kind.TENSOR else OTHER

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
        origin, site = base.origin, base.site
        if not placed:
            # keep why a CPU result is on the CPU (factory, batch, ...)
            for _, v in tensors:
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
        self.add_fact(
            self.facts.mismatches,
            Mismatch(
                node=node,
                context=context,
                op_text=op_text,
                culprit=Operand(self.text(cnode), cval),
                partner=Operand(self.text(pnode), pval),
                cause=cause,
                certain=certain,
                in_batch_loop=bool(scope.loops),
                module_text=module_text,
            ),
            needs_placement,
        )

    # ------------------------------------------------------------------ calls
    def eval_Call(self, node: cst.Call, scope: Scope) -> Value:
        func = node.func
        for a in node.args:
            if a.keyword is not None and a.keyword.value in ("device", "map_location"):
                lit = N.accelerator_literal(a.value)
                if lit is not None:
                    self.add_hardcoded(a.value, repr(lit), "literal", scope)
        if isinstance(func, cst.Attribute) and func.attr.value in ("to", "cuda", "cpu"):
            return self.eval_move(node, scope, statement=None)
        q = self.imports.qualify(func)
        if q is not None:
            handled = self.eval_known_call(q, node, scope)
            if handled is not None:
                return handled
        if isinstance(func, cst.Attribute):
            key = N.dotted(func)
            known = self.lookup(key, scope) if key is not None else None
            if known is not None and (known.kind is Kind.MODULE or known.type_name == "<moved>"):
                return self.call_value(node, known, self.eval_args(node, scope), scope)
            return self.eval_method_call(node, func, scope)
        callee = self.eval(func, scope)
        args = self.eval_args(node, scope)
        return self.call_value(node, callee, args, scope)

    def call_value(
        self, node: cst.Call, callee: Value, args: list[tuple[cst.Arg, Value]], scope: Scope
    ) -> Value:
        if callee.kind is Kind.MODULE or callee.type_name == "<moved>":
            return self.module_call(node, callee, args, scope)
        return UNKNOWN

    def eval_args(self, node: cst.Call, scope: Scope) -> list[tuple[cst.Arg, Value]]:
        return [(a, self.eval(a.value, scope)) for a in node.args]

    def keyword(self, node: cst.Call, name: str) -> Optional[cst.Arg]:
        for a in node.args:
            if a.keyword is not None and a.keyword.value == name:
                return a
        return None

    def positional(self, node: cst.Call) -> list[cst.Arg]:
        return [a for a in node.args if a.keyword is None and not a.star]

    def eval_known_call(self, q: str, node: cst.Call, scope: Scope) -> Optional[Value]:
        """Calls recognised by qualified name: torch, nn, data loaders, project code."""
        last = N.last_part(q)
        if q == "torch.device":
            return self.eval_device_ctor(node, scope)
        if q in ("torch.load", "torch.serialization.load"):
            self.eval_args(node, scope)
            pos = self.positional(node)
            if (
                self.keyword(node, "map_location") is None
                and len(pos) < 2
                and scope.report
                and self.once("load", id(node))
            ):
                self.facts.loads.append(
                    LoadCall(node, self.text(node), self.device_var_name(scope))
                )
            return UNKNOWN
        if q == "torch.set_default_device":
            self.eval_args(node, scope)
            return OTHER
        if (
            q.startswith("torch.")
            and q.count(".") == 1
            and (last in N.FACTORIES or last in N.LEGACY_CONSTRUCTORS)
        ):
            return self.eval_factory(last, node, scope)
        if q.startswith("torch.") and last in N.INHERITING_FACTORIES:
            args = self.eval_args(node, scope)
            dev = self.device_kwarg(node, scope)
            first = args[0][1] if args else UNKNOWN
            return tensor(dev if dev is not None else first.device, scalar=first.scalar)
        if (
            q in ("torch.utils.data.DataLoader", "torch.utils.data.dataloader.DataLoader")
            or last == "DataLoader"
        ):
            return self.eval_loader(node, scope)
        if last == "TensorDataset":
            args = self.eval_args(node, scope)
            elems = tuple(
                replace(v, origin=Origin.NONE) if v.kind is Kind.TENSOR else UNKNOWN
                for _, v in args
            )
            return Value(
                Kind.LOADER,
                _container_device(list(elems)),
                elem=Value(Kind.BATCH, _container_device(list(elems)), elems=elems),
            )
        if q in ("enumerate", "builtins.enumerate"):
            args = self.eval_args(node, scope)
            inner = self.element_of(args[0][1], args[0][0].value, scope) if args else UNKNOWN
            src = args[0][1] if args else UNKNOWN
            return Value(
                src.kind if src.kind is Kind.LOADER else Kind.BATCH,
                DEV_ANY,
                elem=Value(Kind.BATCH, inner.device, elems=(OTHER, inner)),
                type_name=src.type_name,
            )
        if q in ("zip", "builtins.zip"):
            args = self.eval_args(node, scope)
            inners = tuple(self.element_of(v, a.value, scope) for a, v in args)
            is_loader = any(v.kind is Kind.LOADER for _, v in args)
            heuristic = any(v.type_name == HEURISTIC_LOADER for _, v in args)
            return Value(
                Kind.LOADER if is_loader else Kind.BATCH,
                DEV_ANY,
                elem=Value(Kind.BATCH, _container_device(list(inners)), elems=inners),
                type_name=HEURISTIC_LOADER if heuristic else "",
            )
        if last in ("tqdm", "iter", "trange") or q in ("tqdm.tqdm", "tqdm.auto.tqdm"):
            args = self.eval_args(node, scope)
            return args[0][1] if args else UNKNOWN
        if q in ("next", "builtins.next"):
            args = self.eval_args(node, scope)
            return self.element_of(args[0][1], args[0][0].value, scope) if args else UNKNOWN
        if q in (
            "len",
            "int",
            "float",
            "str",
            "bool",
            "print",
            "isinstance",
            "range",
            "min",
            "max",
            "round",
            "abs",
            "sum",
            "hasattr",
            "getattr",
            "open",
        ):
            self.eval_args(node, scope)
            if q == "range":
                return Value(Kind.BATCH, DEV_ANY, elem=OTHER)
            return OTHER if q != "open" else UNKNOWN
        if q in ("list", "tuple", "sorted", "reversed"):
            args = self.eval_args(node, scope)
            if args:
                src = args[0][1]
                el = self.element_of(src, args[0][0].value, scope)
                return Value(
                    Kind.BATCH, src.device if src.kind is Kind.BATCH else el.device, elem=el
                )
            return Value(Kind.BATCH, DEV_ANY)
        if (
            last in ("DataParallel", "DistributedDataParallel")
            or last == "FullyShardedDataParallel"
        ):
            args = self.eval_args(node, scope)
            inner = args[0][1] if args else UNKNOWN
            moves = (
                last == "DataParallel"
                or self.keyword(node, "device_ids") is not None
                or last == "FullyShardedDataParallel"
            )
            return Value(
                Kind.MODULE,
                inner.device
                if inner.kind is Kind.MODULE or inner.type_name == "<moved>"
                else DEV_UNKNOWN,
                oid=inner.oid,
                moves_inputs=moves,
            )
        if q.startswith("torch.nn.") and last[:1].isupper() and "functional" not in q:
            return self.eval_nn_constructor(q, last, node, scope)
        if q.startswith("torch.optim.") and last[:1].isupper():
            self.eval_args(node, scope)
            return Value(Kind.OPTIMIZER, DEV_ANY)
        if last == "from_pretrained":
            self.eval_args(node, scope)
            text = self.text(node.func)
            if any(t in text for t in ("Tokenizer", "Processor", "Config", "FeatureExtractor")):
                return OTHER
            if self.keyword(node, "device_map") is not None:
                return Value(Kind.MODULE, DEV_UNKNOWN)
            return Value(Kind.MODULE, DEV_CPU, oid=self.new_oid())
        if q.startswith("torchvision.models.") and last[:1].islower() and last != "get_weight":
            self.eval_args(node, scope)
            return Value(Kind.MODULE, DEV_CPU, oid=self.new_oid())
        if q in ("timm.create_model",):
            self.eval_args(node, scope)
            return Value(Kind.MODULE, DEV_CPU, oid=self.new_oid())
        if q.startswith(("numpy.", "np.")):
            self.eval_args(node, scope)
            return Value(Kind.NDARRAY, DEV_ANY)
        if q.startswith("torch.") and (
            last in N.COMBINING_FUNCTIONS or q.startswith("torch.nn.functional.")
        ):
            return self.eval_torch_function(q, last, node, scope)
        if q.startswith("torch.") and q.split(".")[1] in (
            "cuda",
            "backends",
            "distributed",
            "manual_seed",
            "autograd",
            "amp",
            "jit",
            "onnx",
            "compile",
        ):
            self.eval_args(node, scope)
            if q in ("torch.cuda.is_available", "torch.cuda.device_count"):
                return OTHER
            if q == "torch.compile":
                return UNKNOWN
            return UNKNOWN
        if q.startswith("torch.") and q.count(".") == 1 and last[:1].islower():
            # other torch ops follow their first tensor argument
            args = self.eval_args(node, scope)
            dev_kw = self.device_kwarg(node, scope)
            for _, v in args:
                if v.kind is Kind.TENSOR:
                    return replace(
                        v,
                        device=dev_kw if dev_kw is not None else v.device,
                        scalar=None if last in N.REDUCTIONS else v.scalar,
                        origin=v.origin if dev_kw is None else Origin.NONE,
                    )
            if last in ("no_grad", "enable_grad", "inference_mode", "set_grad_enabled"):
                return OTHER
            return UNKNOWN
        local = q.split(".")[0]
        if q in self.functions and q == local:
            args = self.eval_args(node, scope)
            return self.call_function(self.functions[q], None, node, args, scope)
        if q in self.classes:
            return self.construct(self.classes[q], node, scope)
        return None

    def eval_device_ctor(self, node: cst.Call, scope: Scope) -> Value:
        if not node.args:
            return Value(Kind.DEVICE, DEV_UNKNOWN)
        arg = node.args[0].value
        for a in node.args[1:]:
            self.eval(a.value, scope)
        lit = N.accelerator_literal(arg)
        if lit is not None:
            self.add_hardcoded(arg, repr(lit) if True else lit, "literal", scope, node)
            return Value(Kind.DEVICE, frozenset({lit}))
        s = N.string_value(arg)
        if s is not None:
            return Value(Kind.DEVICE, DEV_CPU if s.startswith("cpu") else DEV_UNKNOWN)
        v = self.eval(arg, scope)
        if v.kind is Kind.DEVICE:
            return v
        key = N.dotted(arg)
        if key is not None:
            return Value(Kind.DEVICE, sym(key))
        return Value(Kind.DEVICE, DEV_UNKNOWN)

    def device_var_name(self, scope: Scope) -> Optional[str]:
        for env in (scope.env, scope.globals or {}):
            for key, v in env.items():
                if v.kind is Kind.DEVICE and self.is_device_name(key):
                    return key
        return None

    def device_of_arg(self, arg: cst.BaseExpression, scope: Scope, where: cst.CSTNode) -> Device:
        """The device an argument names: a device value, a string, a tensor (`.to(other)`)."""
        lit = N.accelerator_literal(arg)
        if lit is not None:
            self.add_hardcoded(arg, repr(lit), "literal", scope, where)
            return frozenset({lit})
        s = N.string_value(arg)
        if s is not None:
            return DEV_CPU if s.startswith("cpu") else DEV_UNKNOWN
        v = self.eval(arg, scope)
        if v.kind in (Kind.DEVICE, Kind.TENSOR):
            return v.device
        if v.kind is Kind.OTHER and v.device == DEV_ANY:
            return DEV_UNKNOWN
        key = N.dotted(arg)
        if key is not None and self.is_device_name(key):
            return sym(key)
        return DEV_UNKNOWN

    def device_kwarg(self, node: cst.Call, scope: Scope) -> Optional[Device]:
        kw = self.keyword(node, "device")
        if kw is None:
            return None
        return self.device_of_arg(kw.value, scope, node)

    def add_hardcoded(
        self,
        node: cst.CSTNode,
        literal: str,
        form: str,
        scope: Scope,
        where: Optional[cst.CSTNode] = None,
    ) -> None:
        if scope.guarded or not scope.report:
            return
        if not self.once("hard", id(node)):
            return
        self.facts.hardcoded.append(HardcodedDevice(node, literal, form, scope.receives_tensors))

    def eval_factory(self, last: str, node: cst.Call, scope: Scope) -> Value:
        args = self.eval_args(node, scope)
        dev = self.device_kwarg(node, scope)
        pos = self.positional(node)
        first = args[0][1] if args and args[0][0].keyword is None else UNKNOWN
        if last in ("tensor", "as_tensor") and first.kind is Kind.TENSOR:
            # a copy of a tensor stays on its device
            return replace(first, device=dev if dev is not None else first.device)
        if last == "normal":
            # `torch.normal(mean, std)` with tensor arguments follows them
            tensors = [v for _, v in args if v.kind is Kind.TENSOR]
            if tensors:
                return replace(tensors[0], device=dev or tensors[0].device, scalar=False)
        scalar = _factory_scalar(last, pos)
        if last in N.LEGACY_CONSTRUCTORS:
            dev = None
        if dev is None:
            if scope.default_device is not None:
                dev = scope.default_device
            elif self.default_device_changed:
                dev = DEV_UNKNOWN
        if dev is None and any(a.star == "**" for a in node.args):
            dev = DEV_UNKNOWN  # `**factory_kwargs` may carry device=
        if dev is not None:
            if is_placed(dev) and not is_weak(dev):
                self.placed_seen = True
            return tensor(dev, scalar=scalar)
        return tensor(DEV_CPU, origin=Origin.FACTORY, site=node, scalar=scalar)

    def eval_loader(self, node: cst.Call, scope: Scope) -> Value:
        args = self.eval_args(node, scope)
        if self.keyword(node, "collate_fn") is not None:
            return Value(Kind.LOADER, DEV_UNKNOWN, elem=UNKNOWN)
        ds = self.keyword(node, "dataset")
        dataset = (
            self.eval(ds.value, scope)
            if ds is not None
            else (args[0][1] if args and args[0][0].keyword is None else UNKNOWN)
        )
        if dataset.kind is Kind.LOADER and dataset.elem is not None:
            el = dataset.elem
            if not is_cpu(el.device):
                return Value(Kind.LOADER, el.device, elem=el)
        return self.default_loader(heuristic=False)

    def eval_nn_constructor(self, q: str, last: str, node: cst.Call, scope: Scope) -> Value:
        args = self.eval_args(node, scope)
        if last == "Parameter":
            inner = args[0][1] if args else UNKNOWN
            if scope.cls is not None and scope.cls.is_module:
                return tensor(sym("self"), requires_grad=True, scalar=None)
            return tensor(
                inner.device if inner.kind is Kind.TENSOR else DEV_UNKNOWN,
                requires_grad=True,
                scalar=inner.scalar,
            )
        if last in N.PARAMETERLESS_MODULES:
            weight_dev: Optional[Device] = None
            for a, v in args:
                if (
                    a.keyword is not None
                    and a.keyword.value in N.LOSS_WEIGHT_KWARGS
                    and v.kind is Kind.TENSOR
                ):
                    weight_dev = v.device
                    weight_val = v
            if weight_dev is not None and is_known(weight_dev):
                return Value(
                    Kind.MODULE,
                    weight_dev,
                    oid=self.new_oid(),
                    type_name="loss",
                    origin=weight_val.origin,
                    site=weight_val.site,
                )
            return Value(Kind.MODULE, DEV_ANY, oid=self.new_oid())
        if last in ("ModuleList", "Sequential", "ModuleDict", "ParameterList", "ParameterDict"):
            devs = [v.device for _, v in args if v.kind is Kind.MODULE]
            dev = DEV_CPU
            for d in devs:
                if not is_cpu(d) and d != DEV_ANY:
                    dev = DEV_UNKNOWN
            return Value(Kind.MODULE, dev, oid=self.new_oid())
        if self.keyword(node, "device") is not None:
            d = self.device_kwarg(node, scope)
            return Value(Kind.MODULE, d or DEV_UNKNOWN, oid=self.new_oid())
        return Value(
            Kind.MODULE,
            DEV_CPU if scope.default_device is None else scope.default_device,
            oid=self.new_oid(),
        )

    def eval_torch_function(self, q: str, last: str, node: cst.Call, scope: Scope) -> Value:
        args = self.eval_args(node, scope)
        operands: list[tuple[cst.CSTNode, Value]] = []
        weights: list[tuple[cst.CSTNode, Value]] = []
        for a, v in args:
            if a.keyword is not None and a.keyword.value in N.LOSS_WEIGHT_KWARGS:
                weights.append((a.value, v))
            elif a.keyword is not None and a.keyword.value in ("out", "dtype", "reduction", "dim"):
                continue
            elif a.star == "*" or (
                a.keyword is None
                and v.kind is Kind.BATCH
                and last in ("cat", "concat", "concatenate", "stack", "hstack", "vstack", "dstack")
            ):
                if v.elems is not None:
                    seq = a.value
                    nodes = (
                        [e.value for e in seq.elements]
                        if isinstance(seq, (cst.List, cst.Tuple))
                        else [a.value] * len(v.elems)
                    )
                    operands.extend(zip(nodes, v.elems))
                elif v.elem is not None:
                    operands.append((a.value, v.elem))
            else:
                operands.append((a.value, v))
        fname = self.text(node.func)
        if last in N.COMBINING_FUNCTIONS or "loss" in last or "entropy" in last:
            result = self.combine(node, operands, scope, op_text=fname)
        else:
            tensors = [v for _, v in operands if v.kind is Kind.TENSOR]
            result = replace(tensors[0], scalar=None) if tensors else UNKNOWN
        if weights and result.kind is Kind.TENSOR:
            tens = [(n, v) for n, v in operands if v.kind is Kind.TENSOR and is_placed(v.device)]
            for wn, wv in weights:
                if wv.kind is Kind.TENSOR and tens:
                    self.check_operands(
                        node, [tens[0], (wn, wv)], scope, fname, Context.LOSS_WEIGHT
                    )
        if "loss" in last or "entropy" in last:
            return replace(result, scalar=None, origin=Origin.NONE, site=None)
        return result

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
                self.add_hardcoded(func.attr, call_text, "cuda_call", scope)
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
        return self.device_of_arg(arg, scope, node)

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
        key = N.dotted(receiver_node)
        kind = receiver.kind
        if kind is Kind.MODULE or (
            receiver.type_name
            and receiver.type_name in self.classes
            and self.classes[receiver.type_name].defines_to
        ):
            moved = replace(receiver, device=target)
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
                return receiver
            return tensor(target, scalar=receiver.scalar, requires_grad=receiver.requires_grad)
        if kind is Kind.BATCH:
            moved = _move_container(receiver, target)
            if statement is not None and key is not None:
                # BatchEncoding-like in-place `.to()`: trust it
                scope.env[key] = moved
            return moved
        # unknown receiver: a statement `.to(device)` is the in-place idiom of modules
        moved = Value(Kind.UNKNOWN, target, type_name="<moved>", oid=receiver.oid)
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

    # ------------------------------------------------------------------ methods
    def eval_method_call(self, node: cst.Call, func: cst.Attribute, scope: Scope) -> Value:
        name = func.attr.value
        receiver = self.eval(func.value, scope)
        if name == "register_buffer" and scope.cls is not None:
            args = self.eval_args(node, scope)
            key = N.string_value(node.args[0].value) if node.args else None
            if key is not None:
                scope.env[f"self.{key}"] = tensor(
                    sym("self") if scope.cls.is_module else DEV_UNKNOWN, scalar=None
                )
            return OTHER
        if receiver.kind is Kind.TENSOR:
            return self.tensor_method(node, name, receiver, func, scope)
        if receiver.kind is Kind.MODULE or receiver.type_name == "<moved>":
            args = self.eval_args(node, scope)
            if name in ("forward", "__call__"):
                return self.module_call(node, receiver, args, scope)
            if name in (
                "parameters",
                "named_parameters",
                "buffers",
                "state_dict",
                "children",
                "modules",
                "named_modules",
            ):
                return Value(
                    Kind.BATCH, receiver.device, elem=tensor(receiver.device, requires_grad=True)
                )
            if name in (
                "train",
                "eval",
                "half",
                "float",
                "double",
                "bfloat16",
                "requires_grad_",
                "apply",
                "zero_grad",
                "to_empty",
            ):
                if name == "to_empty":
                    return replace(receiver, device=DEV_UNKNOWN)
                return receiver
            info = self.classes.get(receiver.type_name) or self.unique_method_owner(name)
            if name in ("generate", "encode", "decode", "predict", "sample", "embed") or (
                info is not None and name in info.methods
            ):
                if info is not None and name in info.methods:
                    return self.call_function(
                        info.methods[name], info, node, args, scope, self_value=receiver
                    )
                return self.module_output(receiver, args)
            return UNKNOWN
        if receiver.kind is Kind.BATCH:
            args = self.eval_args(node, scope)
            if name in ("items",):
                el = receiver.elem or (
                    tensor(receiver.device, origin=receiver.origin, site=receiver.site)
                    if receiver.entries is None and is_known(receiver.device)
                    else UNKNOWN
                )
                return Value(
                    Kind.BATCH,
                    receiver.device,
                    elem=Value(Kind.BATCH, receiver.device, elems=(OTHER, el)),
                )
            if name in ("values",):
                return Value(Kind.BATCH, receiver.device, elem=receiver.elem)
            if name in ("get",) and args:
                key = N.string_value(node.args[0].value)
                if receiver.entries is not None and key is not None:
                    for k, v in receiver.entries:
                        if k == key:
                            return v
                return receiver.elem or UNKNOWN
            if name in ("pop",) and args:
                return receiver.elem or UNKNOWN
            return UNKNOWN
        if receiver.kind is Kind.LOADER:
            self.eval_args(node, scope)
            return UNKNOWN
        # project classes: self.method(...) and obj.method(...)
        args = self.eval_args(node, scope)
        if (
            isinstance(func.value, cst.Name)
            and func.value.value == "self"
            and scope.cls is not None
        ):
            info = scope.cls
            if name in info.methods:
                return self.call_function(
                    info.methods[name], info, node, args, scope, self_value=scope.env.get("self")
                )
        if receiver.type_name in self.classes:
            info = self.classes[receiver.type_name]
            if name in info.methods:
                return self.call_function(
                    info.methods[name], info, node, args, scope, self_value=receiver
                )
        # accelerate / fabric move things for the user
        if name in ("prepare", "setup", "setup_dataloaders", "prepare_model"):
            return Value(Kind.BATCH, DEV_UNKNOWN)
        if name == "add_argument":
            self.check_argparse_default(node, scope)
        if name == "numpy":
            return Value(Kind.NDARRAY, DEV_ANY)
        return UNKNOWN

    def unique_method_owner(self, name: str) -> Optional[ClassInfo]:
        """The only module class of this file that defines method `name`, if exactly one does:
        `encoder.init_hidden(...)` on a parameter of unknown class."""
        owners = [c for c in self.classes.values() if c.is_module and name in c.methods]
        return owners[0] if len(owners) == 1 else None

    def check_argparse_default(self, node: cst.Call, scope: Scope) -> None:
        pos = self.positional(node)
        if not pos or not any("device" in (N.string_value(a.value) or "") for a in pos):
            return
        default = self.keyword(node, "default")
        if default is not None and N.accelerator_literal(default.value) is not None:
            self.add_hardcoded(default.value, self.text(default.value), "option_default", scope)

    def tensor_method(
        self, node: cst.Call, name: str, receiver: Value, func: cst.Attribute, scope: Scope
    ) -> Value:
        args = self.eval_args(node, scope)
        if name == "numpy":
            force = self.keyword(node, "force")
            if (
                force is None
                and scope.report
                and is_placed(receiver.device)
                and receiver.origin is not Origin.DISCARDED
                and self.once("numpy", id(node))
            ):
                self.add_fact(
                    self.facts.numpy_calls,
                    NumpyCall(node, self.text(func.value), receiver, receiver.requires_grad),
                    is_weak(receiver.device),
                )
            return Value(Kind.NDARRAY, DEV_ANY)
        if name in N.NON_TENSOR_METHODS:
            return OTHER
        if name in (
            "new_zeros",
            "new_ones",
            "new_full",
            "new_empty",
            "new_tensor",
            "zero_",
            "fill_",
        ):
            return tensor(receiver.device, scalar=False)
        if name == "type_as" and args:
            other = args[0][1]
            if other.kind is not Kind.TENSOR:
                return replace(receiver, device=DEV_UNKNOWN, origin=Origin.NONE, site=None)
            return replace(receiver, device=other.device, origin=Origin.NONE, site=None)
        if name in (
            "detach",
            "detach_",
            "clone",
            "contiguous",
            "float",
            "double",
            "half",
            "long",
            "int",
            "bool",
            "byte",
            "bfloat16",
            "requires_grad_",
            "pin_memory",
            "share_memory_",
        ):
            rg = receiver.requires_grad and name not in ("detach", "detach_")
            return replace(receiver, requires_grad=rg)
        if name in N.COMBINING_METHODS:
            operands = [(func.value, receiver)]
            for a, v in args:
                if a.keyword is None or a.keyword.value in (
                    "other",
                    "mask",
                    "index",
                    "src",
                    "value",
                    "mat2",
                ):
                    operands.append((a.value, v))
            if name in (
                "index_select",
                "gather",
                "scatter",
                "scatter_",
                "scatter_add",
                "scatter_add_",
                "index_add",
                "index_add_",
                "index_copy",
                "index_copy_",
                "index_fill",
                "index_fill_",
                "take_along_dim",
                "masked_fill",
                "masked_fill_",
            ):
                # index tensors must be on the input's device even when 0-dim is not in play
                operands = [
                    (
                        n,
                        replace(v, scalar=False)
                        if v.kind is Kind.TENSOR
                        and v.scalar is None
                        and v.origin is not Origin.NONE
                        else v,
                    )
                    for n, v in operands
                ]
            result = self.combine(node, operands, scope, op_text=f".{name}()")
            return (
                replace(
                    receiver,
                    scalar=receiver.scalar,
                    origin=receiver.origin if is_cpu(result.device) else Origin.NONE,
                )
                if result.kind is Kind.TENSOR
                else result
            )
        scalar = receiver.scalar
        if name in N.REDUCTIONS:
            scalar = None if not node.args else receiver.scalar
        if (
            name
            in (
                "max",
                "min",
                "sort",
                "topk",
                "chunk",
                "split",
                "unbind",
                "split_with_sizes",
                "kthvalue",
                "mode",
                "median",
            )
            and node.args
        ):
            return Value(
                Kind.TENSOR,
                receiver.device,
                receiver.origin,
                receiver.site,
                scalar=False,
                requires_grad=receiver.requires_grad,
            )
        return replace(receiver, scalar=scalar)

    # ------------------------------------------------------------------ module calls
    def module_call(
        self, node: cst.Call, module: Value, args: list[tuple[cst.Arg, Value]], scope: Scope
    ) -> Value:
        operands: list[tuple[cst.CSTNode, Value]] = []
        for a, v in args:
            if a.star == "**":
                if v.kind is Kind.BATCH:
                    if v.entries is not None:
                        operands.extend(
                            (a.value, ev) for _, ev in v.entries if ev.kind is Kind.TENSOR
                        )
                    elif is_cpu(v.device) and v.origin is Origin.LOADER:
                        operands.append(
                            (a.value, tensor(v.device, origin=v.origin, site=v.site, scalar=False))
                        )
                continue
            if a.star == "*":
                continue
            if v.kind is Kind.BATCH and v.elems is not None and a.keyword is None:
                # model((x, y)) / model([x, y])
                operands.extend((a.value, e) for e in v.elems if e.kind is Kind.TENSOR)
                continue
            if v.kind is Kind.TENSOR:
                operands.append((a.value, v))
        module_text = self.text(node.func)
        if not module.moves_inputs and operands:
            mdev = module.device
            if is_placed(mdev) or partly_cpu(mdev):
                partner = (node.func, module)
                for n, v in operands:
                    if v.scalar is not False and v.origin not in (Origin.LOADER,):
                        continue
                    if is_cpu(v.device) or (partly_cpu(v.device) and v.origin is Origin.LOADER):
                        self.record(
                            node,
                            Context.MODULE_CALL,
                            module_text,
                            (n, v),
                            partner,
                            scope,
                            module_text,
                        )
            elif is_cpu(mdev):
                placed = [(n, v) for n, v in operands if is_placed(v.device)]
                if placed and not is_weak(placed[0][1].device):
                    if module.type_name == "loss":
                        culprit_val = tensor(DEV_CPU, origin=module.origin, site=module.site)
                        self.record(
                            node,
                            Context.LOSS_WEIGHT,
                            module_text,
                            (node.func, culprit_val),
                            placed[0],
                            scope,
                        )
                    elif module.origin is not Origin.PARAM:
                        self.record(
                            node,
                            Context.MODULE_CALL,
                            module_text,
                            (node.func, module),
                            placed[0],
                            scope,
                            module_text,
                        )
            elif mdev == DEV_ANY:
                # a parameter-free module (a loss): its inputs must agree with each other
                self.check_operands(node, operands, scope, module_text, Context.MODULE_CALL)
        return self.module_output(module, args)

    def module_output(self, module: Value, args: list[tuple[cst.Arg, Value]]) -> Value:
        """What a module call returns: on the module's device (or its inputs' for
        parameter-free modules).  A CPU module fed placed inputs has been reported; its
        output takes the inputs' device so one defect is not reported again downstream."""
        dev = module.device
        tensors = [v for _, v in args if v.kind is Kind.TENSOR]
        placed = [v for v in tensors if is_placed(v.device)]
        if dev == DEV_ANY or not is_known(dev):
            dev = tensors[0].device if tensors and dev == DEV_ANY else DEV_UNKNOWN
        elif is_cpu(dev) and placed:
            dev = placed[0].device
        if module.type_name == "loss" or "Loss" in module.type_name:
            return tensor(dev, scalar=None, requires_grad=True)
        return Value(Kind.TENSOR, dev, Origin.MODEL_OUTPUT, scalar=False, requires_grad=True)

    def construct(self, info: ClassInfo, node: cst.Call, scope: Scope) -> Value:
        args = self.eval_args(node, scope)
        if info.is_module:
            value = Value(
                Kind.MODULE,
                DEV_CPU if scope.default_device is None else scope.default_device,
                oid=self.new_oid(),
                type_name=info.name,
                moves_inputs=info.moves_inputs,
            )
            if "to" in info.methods or "_apply" in info.methods:
                value = replace(value, device=DEV_UNKNOWN)
            return value
        init = info.methods.get("__init__")
        if init is not None:
            self.call_function(
                init,
                info,
                node,
                args,
                scope,
                self_value=Value(Kind.OTHER, DEV_ANY, type_name=info.name),
            )
        return Value(Kind.OTHER, DEV_ANY, oid=self.new_oid(), type_name=info.name)

    def call_function(
        self,
        func: cst.FunctionDef,
        cls: Optional[ClassInfo],
        node: cst.Call,
        args: list[tuple[cst.Arg, Value]],
        scope: Scope,
        self_value: Optional[Value] = None,
    ) -> Value:
        """Analyse a same-file function in the caller's context (reporting off)."""
        if scope.depth >= MAX_CALL_DEPTH or id(func) in self._in_progress:
            return UNKNOWN
        bound = _bind_args(func, cls, args)
        if bound is None:
            return UNKNOWN
        self._in_progress.add(id(func))
        try:
            inner = self.analyze_function(
                func, cls, report=False, args=bound, self_value=self_value, depth=scope.depth + 1
            )
        finally:
            self._in_progress.discard(id(func))
        # in-place moves of module arguments flow back to the caller
        for name, before in bound.items():
            after = inner.env.get(name)
            if (
                after is not None
                and before.oid
                and after.oid == before.oid
                and after.device != before.device
            ):
                self.move_in_place(before, None, replace(before, device=after.device), scope)
        if not inner.returns:
            return OTHER
        result = inner.returns[0]
        for r in inner.returns[1:]:
            result = join_values(result, r)
        return result

    # ------------------------------------------------------------------ iteration
    def element_of(self, value: Value, node: cst.BaseExpression, scope: Scope) -> Value:
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
                return tensor(value.device, origin=Origin.LOADER, site=value.site, scalar=None)
            return UNKNOWN
        if value.kind is Kind.TENSOR:
            return replace(value, scalar=None)
        return UNKNOWN


# ---------------------------------------------------------------------- helpers
def _names_in(node: cst.CSTNode) -> Iterator[str]:
    """Identifiers and string literals in an expression, without generating its code."""
    for n in walk(node):
        if isinstance(n, (cst.Name, cst.SimpleString)):
            yield n.value


def _is_device_expr(node: cst.BaseExpression, value: Value) -> bool:
    """A device value or a device string literal (`"cpu"`, `"cuda:0"`)."""
    if value.kind is Kind.DEVICE:
        return True
    s = N.string_value(node)
    return s is not None and (s.startswith("cpu") or N.accelerator_literal(node) is not None)


def _is_exit_call(call: cst.Call) -> bool:
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


def _target_names(target: cst.BaseExpression) -> Iterator[str]:
    if isinstance(target, cst.Name):
        yield target.value
    elif isinstance(target, (cst.Tuple, cst.List)):
        for el in target.elements:
            yield from _target_names(el.value)


def _subscript_key(node: cst.Subscript) -> Optional[str]:
    if len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index):
        return N.string_value(node.slice[0].slice.value)
    return None


def _container_device(values: list[Value]) -> Device:
    tensors = [v for v in values if v.kind in (Kind.TENSOR, Kind.BATCH)]
    if not tensors:
        return DEV_ANY
    dev = tensors[0].device
    for v in tensors[1:]:
        dev = join_devices(dev, v.device)
    return dev


def _common_origin(values: list[Value]) -> Origin:
    origins = {v.origin for v in values if v.kind is Kind.TENSOR}
    return origins.pop() if len(origins) == 1 else Origin.NONE


def _contains_loader_elem(value: Value) -> bool:
    if value.origin is Origin.LOADER:
        return True
    return any(_contains_loader_elem(e) for e in value.elems or ())


def _move_container(value: Value, target: Device) -> Value:
    elems = tuple(_move_value(e, target) for e in value.elems) if value.elems is not None else None
    entries = (
        tuple((k, _move_value(v, target)) for k, v in value.entries)
        if value.entries is not None
        else None
    )
    elem = _move_value(value.elem, target) if value.elem is not None else None
    if elems is None and entries is None and elem is None:
        elem = tensor(target, scalar=None)
    return Value(Kind.BATCH, target, elems=elems, entries=entries, elem=elem)


def _move_value(value: Value, target: Device) -> Value:
    if value.kind is Kind.TENSOR:
        return tensor(target, scalar=value.scalar)
    if value.kind is Kind.BATCH:
        return _move_container(value, target)
    return value


def _factory_scalar(last: str, pos: list[cst.Arg]) -> Optional[bool]:
    if last == "scalar_tensor":
        return True
    if last in ("tensor", "as_tensor", "Tensor", "FloatTensor", "LongTensor"):
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


def _calls(node: cst.CSTNode, into_functions: bool = True) -> Iterator[cst.Call]:
    for n in walk(node, into_functions=into_functions):
        if isinstance(n, cst.Call):
            yield n


def _method_calls(node: cst.CSTNode, names: tuple[str, ...]) -> Iterator[cst.Attribute]:
    """The `x.name` callee of every `x.name(...)` call with `name` in `names`."""
    for call in _calls(node):
        f = call.func
        if isinstance(f, cst.Attribute) and f.attr.value in names:
            yield f


def _places_with(func: cst.FunctionDef, name: str) -> bool:
    """Does the body use `name` to place data: `.to(name)`, `device=name`, `.cuda(name)`,
    `torch.device(name)`?"""

    def is_name(node: cst.BaseExpression) -> bool:
        return isinstance(node, cst.Name) and node.value == name

    for call in _calls(func):
        callee = N.dotted(call.func) or ""
        for a in call.args:
            if a.keyword is not None:
                if a.keyword.value in ("device", "map_location") and is_name(a.value):
                    return True
            elif is_name(a.value) and callee.endswith((".to", ".cuda", "torch.device")):
                return True
    return False


def _mutated_self_attrs(methods: dict[str, cst.FunctionDef]) -> tuple[set[str], set[str]]:
    """`self.x` names that methods other than `__init__` assign, and those they move."""
    rebound: set[str] = set()
    moved: set[str] = set()
    for name, method in methods.items():
        if name == "__init__":
            continue
        for n in walk(method):
            if isinstance(n, cst.AssignTarget):
                for target in _flat_targets(n.target):
                    dotted = N.dotted(target)
                    if dotted and dotted.startswith("self."):
                        rebound.add(dotted)
        for f in _method_calls(method, ("to", "cuda", "cpu")):
            dotted = N.dotted(f.value)
            if dotted and dotted.startswith("self."):
                moved.add(dotted)
    return rebound, moved


def _flat_targets(target: cst.BaseExpression) -> Iterator[cst.BaseExpression]:
    if isinstance(target, (cst.Tuple, cst.List)):
        for el in target.elements:
            yield from _flat_targets(el.value)
    else:
        yield target


def _collate_moves(module: cst.Module) -> bool:
    """Does a collate function of this file move batches to a device?"""
    return any(
        isinstance(n, cst.FunctionDef)
        and "collate" in n.name.value
        and any(True for _ in _method_calls(n, ("to", "cuda")))
        for n in walk(module)
    )


def _called_method_names(func: cst.FunctionDef) -> set[str]:
    return {c.func.attr.value for c in _calls(func) if isinstance(c.func, cst.Attribute)}


def _moves_params(func: cst.FunctionDef) -> bool:
    """Does the body call `.to(...)`/`.cuda(...)` on one of its parameters?"""
    params = {p.name.value for p in func.params.params} - {"self"}
    return any(
        isinstance(f.value, cst.Name) and f.value.value in params
        for f in _method_calls(func, ("to", "cuda"))
    )


_TENSOR_USES: dict[int, tuple[cst.FunctionDef, frozenset[str]]] = {}


def _tensor_uses(func: cst.FunctionDef) -> frozenset[str]:
    """Parameters the body evidently uses as tensors (`x.shape`, `x.view(...)`)."""
    cached = _TENSOR_USES.get(id(func))
    if cached is not None and cached[0] is func:
        return cached[1]
    params = {
        p.name.value
        for p in (*func.params.params, *func.params.kwonly_params, *func.params.posonly_params)
    }
    found = frozenset(
        n.value.value
        for n in walk(func.body, into_functions=False)
        if isinstance(n, cst.Attribute)
        and isinstance(n.value, cst.Name)
        and n.value.value in params
        and n.attr.value in N.TENSOR_USE_ATTRS
    )
    if len(_TENSOR_USES) > 4096:
        _TENSOR_USES.clear()
    _TENSOR_USES[id(func)] = (func, found)
    return found


def _bind_args(
    func: cst.FunctionDef, cls: Optional[ClassInfo], args: list[tuple[cst.Arg, Value]]
) -> Optional[dict[str, Value]]:
    params = [*func.params.posonly_params, *func.params.params]
    if cls is not None and params and params[0].name.value in ("self", "cls"):
        params = params[1:]
    names = [p.name.value for p in params]
    kwonly = {p.name.value for p in func.params.kwonly_params}
    bound: dict[str, Value] = {}
    i = 0
    for a, v in args:
        if a.star:
            return bound
        if a.keyword is None:
            if i < len(names):
                bound[names[i]] = v
            i += 1
        elif a.keyword.value in names or a.keyword.value in kwonly:
            bound[a.keyword.value] = v
    return bound


def analyze(
    module: cst.Module, source: Optional[str] = None, device_names: Sequence[str] = ()
) -> FileFacts:
    """Compute the device facts of one parsed file (`source`: its text, if at hand;
    `device_names`: extra variable names that hold the target device)."""
    return Analyzer(module, source, device_names).run()
