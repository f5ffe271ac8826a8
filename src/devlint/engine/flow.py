"""The flow-sensitive device analysis: a LibCST visitor.

`DeviceFlowVisitor` is an abstract interpreter over LibCST nodes.  It visits each scope
statement by statement, keeping an environment from names (`x`, `self.model`,
`args.device`) to abstract values (`values.Value`), joins environments where branches
meet and runs loop bodies to a fixpoint.  While evaluating expressions it records *facts*
(`facts.py`): places where operands on different devices meet, discarded moves,
`.numpy()` calls, and so on.

Scopes are analysed in this order: module level (functions and classes are summarised
lazily when called), then every function and method on its own, with symbolic
parameters and the final module environment as globals.  Calls to functions of the
same file are analysed in the caller's context (arguments bound to the caller's values)
with reporting switched off, so the callee's facts are reported once, from its own
standalone analysis, while its return value and in-place moves flow back to the caller.

This module holds the visitor: scopes, statements and binding.  Expression evaluation
lives in `expressions.py`, calls in `calls.py`, `methods.py` and `moves.py` (mixins of
the visitor), syntactic helpers in `syntax.py`.
"""

from __future__ import annotations

import itertools
import re
import sys
import threading
from dataclasses import dataclass, replace
from typing import Callable, Optional, Sequence, Union

import libcst as cst

from devlint.engine import names as N
from devlint.engine.calls import ON_HOST, RELAY, SAVED, CallsMixin
from devlint.engine.default_device import (
    DEFAULT_DEVICE,
    default_device_factory,
    follows_default,
    places_itself_by_flag,
    places_nothing,
)
from devlint.engine.expressions import ExpressionsMixin
from devlint.engine.facts import (
    Cause,
    Context,
    FileFacts,
    HardcodedDevice,
    LoadCall,
    Mismatch,
)
from devlint.engine.methods import MethodsMixin
from devlint.engine.moves import MovesMixin
from devlint.engine.options import EngineOptions
from devlint.engine.scope import (
    CPU_SIDE_BASES,
    HEURISTIC_LOADER,
    LAYER_PARAMETER,
    MAX_LOOP_PASSES,
    MOVED_ELSEWHERE,
    NUMPY_PARAM,
    ClassInfo,
    LoopInfo,
    Scope,
)
from devlint.engine.summary import CALLERS, UNCALLED, decode_facts, summarise
from devlint.engine.syntax import (
    SETUP_HOOKS,
    UNCONDITIONAL_SKIPS,
    accelerator_branch,
    agreed_flags,
    all_params,
    assigned_once,
    called_method_names,
    collate_moves,
    conditional_parts,
    converts_data,
    copies_to_host,
    cpu_only_params,
    cuda_tested,
    default_constants,
    exits_with_accelerators,
    forget_calls,
    has_param,
    holds_no_state,
    is_exit_call,
    is_returning_fixture,
    iterated_container,
    leaves,
    mentions_skip,
    moves_params,
    mutated_self_attrs,
    name_calls,
    names_in,
    none_tested,
    number_tested,
    parameter_names,
    places_state,
    places_with,
    refused_on_accelerator,
    registers_submodules,
    rejects_accelerator,
    runs_with_defaults,
    setup_skips,
    stores_each_tensor_entry,
    subscript_key,
    target_names,
    tensor_attributes,
    tensor_containers,
    tensor_uses,
    unconditional_statements,
    without_input,
)
from devlint.engine.values import (
    DEV_ANY,
    DEV_CPU,
    DEV_UNKNOWN,
    DEVICE_TOLD,
    GRAFT,
    MOVED,
    NUMBER,
    OTHER,
    UNKNOWN,
    Device,
    Kind,
    Origin,
    Value,
    constant,
    container_device,
    is_cpu,
    is_default_fill,
    is_known,
    is_placed,
    is_weak,
    join_values,
    may_be_placed,
    param_names,
    partly_cpu,
    sym,
    tensor,
    truth,
)
from devlint.engine.walk import iter_children, remembering, walk
from devlint.roles import LIBRARY, PROGRAM

# a string literal without an `f` prefix (`"model.pth"`, `r'w.pt'`), in a path key
_PLAIN_STRING = re.compile(r"""(?<![\w])(?:[rRbBuU]{1,2})?(["'])(?:\\.|(?!\1).)*\1""")
# classes whose names say they belong to the data pipeline, which runs on the CPU:
# datasets and their builders/writers, collators, tokenizers, data processors (not
# generation's logits processors; samplers and augmentations may be GPU code too)
# packages that are never the project's own modules: their names are not asked about
_NOT_PROJECT = frozenset(
    {"torch", "numpy", "np", "os", "sys", "math", "random", "time", "json", "re", "typing",
     "collections", "functools", "itertools", "pathlib", "argparse", "logging", "copy",
     "torchvision", "transformers", "pytest", "unittest", "tqdm", "PIL", "scipy", "pandas"}
)  # fmt: skip
CPU_SIDE_NAME = re.compile(r"Dataset|Collat(or|e)|Tokenizer$|(?<!Logits)Processor$")
# plain classes (not modules) named for preprocessing: callables of the data pipeline
# (`Preprocessing(type)(video)` before the frames go to the GPU)
PREPROCESSING_NAME = re.compile(r"Preprocess(ing|or)$")


@dataclass
class FunctionRequest:
    """A function to analyse, as `analyze_function` asks `visit_FunctionDef` to: with
    the caller's arguments (a same-file call) or with symbolic parameters (standalone)."""

    func: cst.FunctionDef
    cls: Optional[ClassInfo]
    report: bool
    args: Optional[dict[str, Value]] = None
    self_value: Optional[Value] = None
    depth: int = 0
    scope: Optional[Scope] = None  # opened by `visit_FunctionDef`
    # the default device in force where the caller calls it (`with torch.device(...)`)
    default_device: Optional[Device] = None
    # the reporting scope this call is analysed for (`Scope.reporter`)
    reporter: Optional[Scope] = None


class DeviceFlowVisitor(cst.CSTVisitor, ExpressionsMixin, CallsMixin, MethodsMixin, MovesMixin):
    """The device-flow analysis of one module, as a LibCST visitor.

    `Module.visit(visitor)` runs it: `visit_Module` opens the module scope and LibCST
    visits the module's statements in order; `leave_Module` then analyses every function
    and method on its own.  Each scope (module, function, method, nested function,
    comprehension) is opened by a `visit_` method and closed by the matching `leave_`
    method; compound statements walk their blocks themselves, in execution order.
    Expressions are evaluated by `eval` (`ExpressionsMixin`), which dispatches on the
    LibCST node class.  The result is `self.facts`."""

    def __init__(
        self,
        module: cst.Module,
        source: str,
        options: Optional[EngineOptions] = None,
    ) -> None:
        super().__init__()
        options = options or EngineOptions()
        # extra names (`[tool.devlint] device-names`) that hold the target device
        self.device_names = frozenset(options.device_names)
        # decorators and markers (`[tool.devlint] gpu-guards`) that require an accelerator
        self.gpu_guards = frozenset(options.gpu_guards)
        self.module = module
        self.facts = FileFacts(module=module, source=source)
        self.imports = N.ImportMap(options.package)
        self.package = options.package
        self.imports.collect(module.body)
        # what other modules of the project say about names imported here (qualified
        # name -> fact, `engine.summary`), and the imported names the analysis looked up
        # (the runner gives their facts to a second analysis when the project has any)
        self.project = decode_facts(options.project)
        # what other modules pass this module's functions: function -> parameter -> the
        # module that passes it a placed tensor (`devlint.project`, "@callers:" facts)
        self.callers: dict[str, dict[str, str]] = {
            name[len(CALLERS) :]: fact.get("params", {})
            for name, fact in self.project.items()
            if name.startswith(CALLERS)
        }
        # ... and what every call of the project passes a parameter (placed, CPU,
        # other): function -> parameter -> kinds, for the helpers listed in `open`
        self.callers_fed: dict[str, dict[str, list[str]]] = {
            name[len(CALLERS) :]: fact["fed"]
            for name, fact in self.project.items()
            if name.startswith(CALLERS) and "fed" in fact
        }
        # what this module's analysis could not decide: function -> parameters whose
        # placed argument would make a finding; imported name -> the arguments a call
        # here passes it placed (positions and keywords)
        self.conditional: dict[str, set[str]] = {}
        # function -> parameters a finding is kept on because no call here shows them fed
        # CPU data (calls elsewhere in the project may: `devlint.project`)
        self.open_params: dict[str, set[str]] = {}
        # (function id, parameter): the function calls `.numpy()` on that parameter's data
        # as it is (`methods.tensor_method`)
        self.numpy_params: set[tuple[int, str]] = set()
        # helpers of a script module with such findings that its code never names again
        # (`summary["unused"]`), and those the project never calls either
        self.unused_helpers: set[str] = set()
        self.uncalled: set[str] = set(self.project.get(UNCALLED, {}).get("names", ()))
        self._identifiers: Optional[dict[str, int]] = None
        self._definitions: Optional[dict[int, tuple[cst.FunctionDef, Optional[ClassInfo]]]] = None
        self.outgoing: dict[str, set[str]] = {}
        # imported name -> per call, what it passes each argument (`calls.passed_kind`)
        self.fed: dict[str, list[dict[str, str]]] = {}
        self.asked: set[str] = set()
        self._import_heads = {q.split(".", 1)[0] for q in self.imports.aliases.values()}
        self._import_heads.update(q.split(".", 1)[0] for q in self.imports.stars)
        # module-level function -> the values its standalone analysis returns
        self.function_returns: dict[str, list[Value]] = {}
        # what each method returns, analysed on its own: (class, method) -> returns
        self.method_returns: dict[tuple[str, str], list[Value]] = {}
        self._after_exit: dict[int, frozenset[int]] = {}
        self._device_branches: dict[int, frozenset[int]] = {}
        self._under_device_tests: dict[int, bool] = {}
        self.classes: dict[str, ClassInfo] = {}
        self.functions: dict[str, cst.FunctionDef] = {}
        # pytest fixtures of this file that return their value, by name
        self.fixtures: dict[str, cst.FunctionDef] = {}
        # module-level `name = expr` assignments (a guard marker defined in this file)
        self.module_assigns: dict[str, cst.BaseExpression] = {}
        self._oids = itertools.count(1)
        # names' uses and calls in the module (`syntax.name_calls`), built when first needed
        self._name_calls: Optional[tuple[dict[str, int], dict[str, list[cst.Call]]]] = None
        self._seen: set[tuple] = set()
        # culprit values whose identity `root_key` remembers (kept alive: ids stay unique)
        self._root_values: list[Value] = []
        self.module_env: dict[str, Value] = {}
        code = source
        # Facts whose partner is only a parameter's device count when the file itself
        # places something on an accelerator (set during the walk, applied at the end).
        self.placed_seen = False
        # hooks (offloading, accelerate dispatch) move modules when they are called
        self.hooks_possible = any(
            s in code for s in ("offload", "dispatch_model", "_hook(", "init_empty_weights")
        )
        self._tensor_uses: dict[int, tuple[frozenset[str], frozenset[str]]] = {}
        # module `oid` -> the function that built it (`nn.Linear(...)` in its body)
        self.modules_built_in: dict[int, int] = {}
        # function -> whether it copies some value to the host itself (`copies_to_host`)
        self._host_copies: dict[int, bool] = {}
        # (function, parameter) pairs that a call in this file passes a placed tensor to
        self.placed_params: set[tuple[int, str]] = set()
        # (function, parameter) -> what same-file calls pass it: "cpu", "placed", "other"
        self.passed: dict[tuple[int, str], set[str]] = {}
        # function -> for each same-file call, the placed default device in force there
        # (`with torch.device("cuda"):`), else None: the factories of a function only ever
        # called under one follow it (closed world: scripts and private functions)
        self.call_defaults: dict[int, set[Optional[Device]]] = {}
        # function -> the default device its own analysis assumed (None: analysed again
        # without one, see `leave_Module`)
        self.applied_defaults: dict[int, Optional[Device]] = {}
        self.created_in: dict[int, int] = {}  # factory call -> the function it runs in
        # loop targets over loaders known only by name, and those whose batches get moved
        self.heuristic_sites: set[int] = set()
        self.moved_sites: set[int] = set()
        # the classes and functions (`batch_owner`) with a loop over such a loader that
        # moves its batches: their loaders yield CPU batches
        self.moving_owners: set[str] = set()
        self._conditions: dict[int, bool] = {}
        self.module_guarded = False
        self.module_requires_accelerator = False
        self._pending: list[
            tuple[list, object, bool, Optional[tuple[int, str]], Optional[tuple[int, str]]]
        ] = []
        self.collate_moves = "collate" in code and collate_moves(module)
        # a script (`if __name__ == "__main__":`), whose functions only it calls
        self.is_program = any(
            isinstance(s, cst.If) and "__name__" in set(names_in(s.test)) for s in module.body
        )
        # library code (`devlint.roles`): its public functions may be given tensors on any
        # accelerator by callers outside the project (the open world), also where the
        # module ends in a demo (`if __name__ == "__main__":`): it is imported all the same
        self.open_world = options.role == LIBRARY
        self.test_suite = options.test_suite
        self.notebook = options.notebook
        # a program, test module or notebook: nothing outside calls its functions
        self.self_contained = options.role == PROGRAM or (self.is_program and not self.open_world)
        self.default_device_changed = "set_default_device" in code
        # `torch.save` targets by path text -> whether each payload holds no accelerator
        # tensor; loads of a path that is not a bare name, for `leave_Module`
        self.saved_payloads: dict[str, list[bool]] = {}
        self.load_paths: list[tuple[LoadCall, str]] = []
        # a load of a parameter's path -> the strings this file's calls ran it with (None
        # for anything else): `param_load_assets`
        self.load_literals: dict[int, set[Optional[str]]] = {}
        self._in_progress: set[int] = set()
        # private helpers' hard-coded device defaults, and, per same-file function, the
        # calls seen and those passing each parameter (`report_private_defaults`)
        self._private_defaults: list[
            tuple[cst.FunctionDef, str, cst.Param, str, bool, Optional[ClassInfo]]
        ] = []
        self.call_sites: dict[int, set[int]] = {}
        self.passing_sites: dict[tuple[int, str], set[int]] = {}
        # function (or module) -> its small statements that run whenever it does
        self._unconditional: dict[int, set[int]] = {}
        # function node id -> what `syntax.move_helper` says of it (`move_helper_of`)
        self._move_helpers: dict[int, Optional[tuple[str, str]]] = {}
        # same-file calls analysed with given arguments (`CallsMixin._call_key`)
        self._call_memo: dict[tuple, Scope] = {}
        # the open scopes, innermost last; functions asked for by `analyze_function`; the
        # class whose methods are being analysed (see `leave_Module`)
        self.scopes: list[Scope] = []
        # names used inside and outside module-level accelerator-only blocks
        # (`used_only_where_accelerator`), computed when first asked
        self._accelerator_refs: Optional[tuple[frozenset[str], frozenset[str]]] = None
        # batches one of whose entries had its move discarded (`x[k].to(device)` as a
        # statement), per function: (id of the function, the batch's name)
        self.discarded_batches: set[tuple[int, str]] = set()
        self._requests: list[FunctionRequest] = []
        self.class_stack: list[ClassInfo] = []
        # comprehension scopes: the environments they shadow, and their element values
        self._outer_envs: list[dict[str, Value]] = []
        self.comprehension_values: list[list[Value]] = []
        self._collect_defs(module.body)

    # ------------------------------------------------------------------ set-up
    def _collect_defs(self, body: Sequence[cst.CSTNode]) -> None:
        for stmt in body:
            if isinstance(stmt, cst.FunctionDef):
                self.functions[stmt.name.value] = stmt
                if is_returning_fixture(stmt):
                    self.fixtures[stmt.name.value] = stmt
            elif isinstance(stmt, cst.ClassDef):
                bases = [self.imports.qualify(b.value) or "" for b in stmt.bases]
                info = ClassInfo(stmt, stmt.name.value, bases)
                for item in stmt.body.body:
                    if isinstance(item, cst.FunctionDef):
                        info.methods[item.name.value] = item
                info.defines_to = "to" in info.methods or "_apply" in info.methods

                self.classes[info.name] = info
            elif isinstance(stmt, (cst.If, cst.Try, cst.TryStar)):
                self._collect_defs(stmt.body.body)
            elif isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    if isinstance(small, cst.Assign) and len(small.targets) == 1:
                        name = N.dotted(small.targets[0].target)
                        if name is not None and "." not in name:
                            self.module_assigns[name] = small.value
        for info in self.classes.values():
            info.cpu_side = self._is_cpu_side_class(info, set())
        for info in self.classes.values():
            info.is_module = self._is_module_class(info, set())
            info.stateless = info.is_module and holds_no_state(info.bases, info.methods)
            if not info.is_module and PREPROCESSING_NAME.search(info.name):
                info.cpu_side = True
            if not info.is_module:
                # only plain classes (trainers...) need to know what later methods change
                info.rebound, info.moved = mutated_self_attrs(info.methods)
            init = info.methods.get("__init__")
            if info.is_module and init is not None:
                info.places_state = places_state(init)
            forward = info.methods.get("forward")
            if info.is_module and forward is not None:
                info.moves_inputs = moves_params(forward)
                info.cpu_inputs = cpu_only_params(forward)
        self.some_module_moves_inputs = any(c.moves_inputs for c in self.classes.values())
        # module classes whose forward needs some inputs on the CPU (`ClassInfo.cpu_inputs`)
        self.packing_classes = [c for c in self.classes.values() if c.cpu_inputs]
        # methods that constructors call: they run while the module is still on the CPU
        # (and the methods of the same class that those call: `append` ->
        # `get_output_shape`), except `forward`, which runs on the moved module, and
        # what the class's other methods call too (`get_log_std`, used by `__init__` and
        # by the sampling methods that run on the moved module)
        self.called_in_init: set[str] = set()
        for info in self.classes.values():
            init = info.methods.get("__init__")
            if info.is_module and init is not None:
                reached = _reached(info, ["__init__"])
                later = [n for n in info.methods if n not in reached or n in _RUNTIME_METHODS]
                runtime = _reached(info, [n for n in later if n != "__init__"])
                self.called_in_init |= reached - runtime - _RUNTIME_METHODS - {"__init__"}

    def _is_cpu_side_class(self, info: ClassInfo, seen: set[str]) -> bool:
        """Datasets, samplers, loaders and transforms run in the data pipeline, on the CPU;
        so do collators (`DataCollatorForLanguageModeling`), whatever their bases."""
        seen.add(info.name)
        if CPU_SIDE_NAME.search(info.name):
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
            fact = self.imported_fact(base)
            if fact is not None and fact.get("module"):
                return True
            local = base.rsplit(".", 1)[-1]
            if (
                local in self.classes
                and local not in seen
                and self._is_module_class(self.classes[local], seen)
            ):
                return True
        return False

    def imported_fact(self, qname: str) -> Optional[dict]:
        """What another module of the project says about an imported name (None: nothing
        known).  Every imported name asked about is remembered (`self.asked`)."""
        if "." not in qname:
            # a name only a star import can have bound (`from pkg.blocks import *`)
            if not self.imports.stars or qname in self.classes or qname in self.functions:
                return None
            for star in self.imports.stars:
                found = self.imported_fact(f"{star}.{qname}")
                if found is not None:
                    return found
            return None
        head = qname.split(".", 1)[0]
        if head not in self._import_heads or head in _NOT_PROJECT:
            return None
        self.asked.add(qname)
        return self.project.get(qname)

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
        `args.cuda`, `not args.cpu`, `device.type == "cuda"`): code under it is guarded."""
        key = id(node)
        known = self._conditions.get(key)
        if known is None:
            known = any(
                N.DEVICE_CONDITION_RE.search(n) or N.CPU_FLAG_RE.search(n)
                for n in names_in(node)
            )
            self._conditions[key] = known
        return known

    def is_guard_decorator(self, expr: cst.BaseExpression, depth: int = 0) -> bool:
        """A decorator (or class marker) under which the code runs only where an
        accelerator is, or never: a skip conditioned on one (`@pytest.mark.skipif(not
        torch.cuda.is_available(), ...)`, `@unittest.skipUnless(TEST_CUDA, ...)`), a marker
        or decorator that says so by name (`@requires_gpu`, `@pytest.mark.gpu`, `@onlyCUDA`,
        `@RunIf(min_cuda_gpus=1)`, `@require_torch_accelerator`), an unconditional skip, or
        a decorator of this file whose definition skips where no accelerator is (followed
        to its `def` or its `name = ...` assignment).  Code under it may name the
        accelerator: DL002 ("no GPU here") does not apply; the other rules still do."""
        if self.is_device_condition(expr):
            return True
        callee = expr.func if isinstance(expr, cst.Call) else expr
        if self.imports.qualify(callee) in UNCONDITIONAL_SKIPS:
            return True
        name = N.dotted(callee)
        if name is None or depth > 2:
            return False
        if self.gpu_guards and (
            name in self.gpu_guards or name.rsplit(".", 1)[-1] in self.gpu_guards
        ):
            return True  # `[tool.devlint] gpu-guards = ["requires_gpu", "pytest.mark.gpu"]`
        func = self.functions.get(name)
        if func is not None:
            return mentions_skip(func) and any(
                N.DEVICE_CONDITION_RE.search(n) for n in names_in(func.body)
            )
        value = self.module_assigns.get(name)
        return value is not None and self.is_guard_decorator(value, depth + 1)

    def class_guarded(self, info: ClassInfo) -> bool:
        """A test class whose tests run only where an accelerator is: a guard decorator on
        the class, a class-level `pytestmark`, a set-up hook that skips without one
        (`if not torch.cuda.is_available(): self.skipTest(...)`), or such a base class of
        this file.  Every method of it is guarded."""
        if info.gpu_only is None:
            info.gpu_only = False  # a cycle of bases guards nothing
            guarded = any(self.is_guard_decorator(d.decorator) for d in info.node.decorators)
            for item in info.node.body.body:
                if guarded:
                    break
                if isinstance(item, cst.SimpleStatementLine):
                    guarded = any(
                        isinstance(s, cst.Assign)
                        and any(N.dotted(t.target) == "pytestmark" for t in s.targets)
                        and self.is_guard_decorator(s.value)
                        for s in item.body
                    )
            if not guarded:
                guarded = any(
                    setup_skips(info.methods[hook], self.is_device_condition)
                    for hook in SETUP_HOOKS
                    if hook in info.methods
                )
            if not guarded:
                for base in info.bases:
                    local = self.classes.get(base.rsplit(".", 1)[-1])
                    if local is not None and local is not info and self.class_guarded(local):
                        guarded = True
                        break
            if not guarded and not self.open_world:
                guarded = self.used_only_where_accelerator(info.name)
            info.gpu_only = guarded
        return info.gpu_only

    def used_only_where_accelerator(self, name: str) -> bool:
        """A class of this file named only inside module-level blocks that run where an
        accelerator is (captum's `DataParallelMeta`, the metaclass of a test class defined
        under `if torch.cuda.is_available():`): what it builds runs only there.  Closed
        world: nothing outside this file uses it."""
        refs = self._accelerator_refs
        if refs is None:
            blocks: dict[int, cst.If] = {
                id(stmt): stmt
                for stmt in self.module.body
                if isinstance(stmt, cst.If) and accelerator_branch(stmt.test) is True
            }
            inside: set[str] = set()
            outside: set[str] = set()
            # no such block (most files): no walk of the module
            for stmt in self.module.body if blocks else ():
                block = blocks.get(id(stmt))
                if block is not None:
                    inside.update(names_in(block.body))
                    if block.orelse is not None:
                        outside.update(names_in(block.orelse))
                elif isinstance(stmt, cst.ClassDef):
                    # its own body names it only in its own methods (`metacls`, `cls`)
                    own = stmt.name.value
                    outside.update(n for n in names_in(stmt.body) if n != own)
                    for arg in (*stmt.bases, *stmt.keywords, *stmt.decorators):
                        outside.update(names_in(arg))
                else:
                    outside.update(names_in(stmt))
            refs = self._accelerator_refs = (frozenset(inside), frozenset(outside))
        inside, outside = refs
        return name in inside and name not in outside

    def called_only_guarded(
        self, func: cst.FunctionDef, cls: Optional[ClassInfo], seen: frozenset = frozenset()
    ) -> bool:
        """A helper that only guarded code of this file calls: `init_cloud` called only by
        tests decorated `@needs_multigpu`, a module function called only from a GPU-only
        test class.  It runs only where the accelerator is, as its callers do.  Closed world
        only (a public function of library code has callers out of sight); at least one
        call, and every call inside a function that is guarded (a guard decorator, a
        guarded class, or itself such a helper)."""
        if self.open_world or id(func) in seen or not self.has_guarded_code():
            return False
        sites = self._call_sites().get(
            ("m", cls.node.name.value, func.name.value)
            if cls is not None
            else ("f", func.name.value)
        )
        if not sites:
            return False
        seen = seen | {id(func)}
        for caller, caller_cls, call in sites:
            if caller is None:
                return False  # called at module level
            if id(call) in self.gpu_only_nodes(caller):
                continue  # after `if not torch.cuda.is_available(): return`, or in a GPU branch
            info = self.classes.get(caller_cls.name.value) if caller_cls is not None else None
            if any(self.is_guard_decorator(d.decorator) for d in caller.decorators):
                continue
            if info is not None and info.node is caller_cls and self.class_guarded(info):
                continue
            if self.called_only_guarded(caller, info, seen):
                continue
            return False
        return True

    def has_guarded_code(self) -> bool:
        """Some top-level function or method of this file is guarded (a guard decorator,
        a guarded class): without one no helper is called only from guarded code, and
        the call-site map need not be built (pytorch/examples: 0.1 s of a cold run)."""
        known = getattr(self, "_has_guarded_code", None)
        if known is None:
            functions = [*self.functions.values()]
            for info in self.classes.values():
                functions.extend(info.methods.values())
            known = (
                any(self.is_guard_decorator(d.decorator) for f in functions for d in f.decorators)
                or any(self.class_guarded(info) for info in self.classes.values())
                or any(self.gpu_only_nodes(f) for f in functions)
            )
            self._has_guarded_code = known
        return known

    def called_under_device_tests(self, scope: Scope) -> bool:
        """The function of `scope`, in closed-world code, is used (called or handed on)
        only in branches of device tests (`if args.cuda: batch = to_cuda(batch)`, `x if
        not use_gpu else to_gpu(x)`), and nowhere else by name, in this file or another
        module of the project: its hard-coded
        accelerator runs only where the program chose one, as it would written in that
        branch (DL002 only: the code may still run on a CPU-only machine, so this is no
        `guarded_rest`)."""
        func = scope.func
        if func is None or self.open_world or scope.depth:
            return False
        known = self._under_device_tests.get(id(func))
        if known is not None:
            return known
        known = False
        name = func.name.value
        cls = scope.cls
        sites = self._call_sites().get(("m", cls.name, name) if cls is not None else ("f", name))
        if sites and self.named_only_by(name, len(sites)):
            known = all(
                id(call) in self.device_branch_nodes(caller if caller is not None else self.module)
                or (caller is not None and id(call) in self.gpu_only_nodes(caller))
                for caller, _, call in sites
            )
            if known and not self.self_contained:
                # and no other module of the project names it (a test helper imported by
                # the tests): the project says so (`devlint.project.uncalled`); nothing
                # outside a program calls its functions
                self.unused_helpers.add(name)
                known = name in self.uncalled
        self._under_device_tests[id(func)] = known
        return known

    def device_branch_nodes(self, owner: Union[cst.FunctionDef, cst.Module]) -> frozenset[int]:
        """The nodes of `owner` in a branch of a device test (`if args.cuda:` and its
        `else`, a conditional expression on one), as `walk_if` guards them."""
        known = self._device_branches.get(id(owner))
        if known is None:
            found: set[int] = set()
            for node in walk(owner.body if type(owner) is cst.FunctionDef else owner):
                if type(node) is cst.If and self.is_device_condition(node.test):
                    found.update(id(n) for n in walk(node.body))
                    if node.orelse is not None:
                        found.update(id(n) for n in walk(node.orelse))
                elif type(node) is cst.IfExp and self.is_device_condition(node.test):
                    found.update(id(n) for n in walk(node.body))
                    found.update(id(n) for n in walk(node.orelse))
            known = self._device_branches[id(owner)] = frozenset(found)
        return known

    def gpu_only_nodes(self, func: cst.FunctionDef) -> frozenset[int]:
        """The nodes of `func` that run only where an accelerator is: those of the
        statements after a top-level one that leaves where none is (`if not
        torch.cuda.is_available(): return`, `raise`, `sys.exit()`, `pytest.skip()`), and
        those of a branch that runs only where one is (the body of `if
        torch.cuda.is_available():`, the `else` of `if not torch.cuda.is_available():`).
        Empty when there is neither."""
        known = self._after_exit.get(id(func))
        if known is None:
            found: set[int] = set()
            body = func.body.body if type(func.body) is cst.IndentedBlock else ()
            for i, stmt in enumerate(body):
                if (
                    type(stmt) is cst.If
                    and stmt.orelse is None
                    and leaves(stmt.body)
                    # true exactly where no accelerator is: `if args.cuda and not
                    # torch.cuda.is_available(): raise` lets CPU runs go on
                    and accelerator_branch(stmt.test) is False
                    and not exits_with_accelerators(stmt.test)
                ):
                    found.update(id(n) for later in body[i + 1 :] for n in walk(later))
                    break
            for node in walk(func.body):
                if type(node) is not cst.If:
                    continue
                branch = accelerator_branch(node.test)
                if branch is True:
                    found.update(id(n) for n in walk(node.body))
                elif branch is False and type(node.orelse) is cst.Else:
                    found.update(id(n) for n in walk(node.orelse.body))
            known = self._after_exit[id(func)] = frozenset(found)
        return known

    def _call_sites(
        self,
    ) -> dict[
        tuple, list[tuple[Optional[cst.FunctionDef], Optional[cst.ClassDef], cst.Call]]
    ]:
        """Same-file calls by callee: `("f", name)` for `name(...)`, `("m", class, name)`
        for `self.name(...)`/`cls.name(...)` inside the class and `Class.name(...)`, each
        with the function and class it is written in and the call (once per file)."""
        known = getattr(self, "_call_site_map", None)
        if known is not None:
            return known
        sites: dict[tuple, list] = {}
        stack: list[tuple[cst.CSTNode, Optional[cst.FunctionDef], Optional[cst.ClassDef]]] = [
            (self.module, None, None)
        ]
        while stack:
            node, func, klass = stack.pop()
            for child in iter_children(node):
                if type(child) is cst.FunctionDef:
                    stack.append((child, child, klass))
                    continue
                if type(child) is cst.ClassDef:
                    stack.append((child, func, child))
                    continue
                if type(child) is cst.Call:
                    # the callee, and functions handed over to be called (`executor(f,
                    # ...)`, `Thread(target=f)`): each is a use at this place
                    for callee in (child.func, *(a.value for a in child.args)):
                        key = None
                        if type(callee) is cst.Name:
                            key = ("f", callee.value)
                        elif type(callee) is cst.Attribute and type(callee.value) is cst.Name:
                            owner = callee.value.value
                            if owner in ("self", "cls") and klass is not None:
                                key = ("m", klass.name.value, callee.attr.value)
                            elif owner in self.classes:
                                key = ("m", owner, callee.attr.value)
                        if key is not None:
                            sites.setdefault(key, []).append((func, klass, child))
                stack.append((child, func, klass))
        self._call_site_map = sites
        return sites

    def is_public_api(self, scope: Scope) -> bool:
        """The scope is a public function of this module, or a public method (dunder
        methods included: `forward`, `__call__`) of a public class: callers outside the
        project may call it.  Nested functions and `_private` names are not."""
        return scope.func is not None and self.is_public(scope.func, scope.cls)

    def is_public(self, func: cst.FunctionDef, cls: Optional[ClassInfo]) -> bool:
        """`is_public_api` for a function and the class it is a method of (or None)."""
        name = func.name.value
        private = name.startswith("_") and not (name.startswith("__") and name.endswith("__"))
        if cls is None:
            return not private and self.functions.get(name) is func
        return (
            not cls.name.startswith("_")
            and self.classes.get(cls.name) is cls
            and cls.methods.get(name) is func
            and (not private or self.overrides_project_hook(name, cls))
        )

    def overrides_project_hook(self, name: str, cls: ClassInfo) -> bool:
        """`class SNRE(RatioEstimator): def _loss(self, theta, x)` in library code: a
        private method that nothing in this file calls or names (other classes here may
        define it too), of a class whose base is another module of the project.  It is
        the base class's hook (a template method: the base's `train` calls
        `self._loss(...)`), so its callers are the base class's public methods, with
        whatever tensors their callers pass: the same open world as a public method."""
        return self.project_base(cls) is not None and self.named_only_by(name, 0)

    def named_only_by(self, name: str, uses: int) -> bool:
        """`name` occurs in this file's code only where it is defined (as a function, or a
        method of any class) and `uses` times besides."""
        defs = sum(1 for c in self.classes.values() if name in c.methods)
        return self.identifiers().get(name, 0) == uses + defs + (name in self.functions)

    def project_base(self, cls: ClassInfo) -> Optional[str]:
        """A base class of `cls` from another module of this file's project (qualified)."""
        if not self.package:
            return None
        own = self.package.split(".", 1)[0] + "."
        # `ClassInfo.bases` are qualified through this file's imports
        return next((b for b in cls.bases if b.startswith(own) and b not in self.classes), None)

    def open_contract(self, scope: Scope, device: Device) -> str:
        """The library contract under which a value placed only by the function's own
        parameters is on an accelerator, worded for the message; "" when none applies.

        In library code (`devlint.roles`) a public function is device-agnostic by
        contract: callers outside the project may pass its tensor parameters on any
        accelerator, so what would break for them is a finding even with no caller in
        sight (the open world).  Elsewhere the callers are all known (closed world)."""
        if not self.open_world or not scope.report or not self.is_public_api(scope):
            return ""
        assert scope.func is not None
        name = scope.func.name.value
        owner = f"`{scope.cls.name}.{name}`" if scope.cls is not None else f"`{name}`"
        if device == sym("self") and scope.cls is not None and scope.cls.is_module:
            # the module's own parameters, buffers and outputs: users move library modules
            return (
                f"{owner} is a public method of a library module: callers may move the "
                "module to an accelerator"
            )
        params = {p.name.value for p in all_params(scope.func)}
        names = sorted(param_names(device))
        if not names or len(names) != len(device):
            return ""
        init = scope.cls.methods.get("__init__") if scope.cls is not None else None
        # a parameter the function (or the constructor that keeps it) refuses on an
        # accelerator (`if x.is_cuda: raise ...`) is on the CPU by contract
        refused = rejects_accelerator(scope.func)
        if init is not None and init is not scope.func:
            refused |= rejects_accelerator(init)
        if set(names) <= refused:
            return ""
        if (
            init is not None
            and init is not scope.func
            and not set(names) <= params
            and set(names) <= {p.name.value for p in all_params(init)}
        ):
            # a model or tensor the constructor was given and the object keeps
            shown = " or ".join(f"`{n}`" for n in names)
            return (
                f"{owner} is a public method of library code: callers may construct "
                f"`{scope.cls.name}` with {shown} on an accelerator"
            )
        if not set(names) <= params:
            return ""
        shown = " or ".join(f"`{n}`" for n in names)
        if name.startswith("_") and not name.endswith("__") and scope.cls is not None:
            base = self.project_base(scope.cls) or ""
            return (
                f"{owner} is the hook that `{N.last_part(base)}` (another module of the "
                f"project) calls: its callers may pass {shown} on an accelerator"
            )
        return (
            f"{owner} is a public function of library code: callers may pass {shown} "
            "on an accelerator"
        )

    # ------------------------------------------------------------------ dispatch
    def on_visit(self, node: cst.CSTNode) -> bool:
        """LibCST's dispatch to `visit_<Class>`, with the method looked up once per class.

        A node without a `visit_` method is not descended into: expressions are evaluated
        by `eval` in the order the analysis needs, and statements are visited one by one
        by the scope that holds them, so nothing is traversed twice or out of order."""
        cls = type(node)
        handler = _VISITS.get(cls, _MISSING)
        if handler is _MISSING:
            handler = _VISITS[cls] = getattr(type(self), f"visit_{cls.__name__}", None)
        return handler is not None and bool(handler(self, node))

    def on_leave(self, original_node: cst.CSTNode) -> None:
        cls = type(original_node)
        handler = _LEAVES.get(cls, _MISSING)
        if handler is _MISSING:
            handler = _LEAVES[cls] = getattr(type(self), f"leave_{cls.__name__}", None)
        if handler is not None:
            handler(self, original_node)

    # ------------------------------------------------------------------ scopes
    @property
    def scope(self) -> Scope:
        """The scope under analysis: the innermost one a `visit_` method has opened."""
        return self.scopes[-1]

    def dead(self) -> bool:
        """No scope is open (a class body's own statements), or an earlier statement of
        this scope certainly exited: the statement at hand is not analysed."""
        return not self.scopes or self.scopes[-1].exited

    def visit_Module(self, node: cst.Module) -> bool:
        self.scopes.append(Scope(env={}, report=True))
        return True  # LibCST visits the module's statements in order

    def leave_Module(self, node: cst.Module) -> None:
        scope = self.scopes.pop()
        self.module_env = scope.env
        # `pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), ...)` or an early exit
        self.module_guarded = scope.guarded_rest and not self.module_requires_accelerator
        # then every function and method on its own, with the module's final environment
        # as globals: functions through a request, methods through their class body
        for func in self.functions.values():
            done = self.analyze_function(func, None, report=True)
            self.function_returns[func.name.value] = done.returns
        for info in self.classes.values():
            self.class_stack.append(info)
            try:
                info.node.visit(self)
            finally:
                self.class_stack.pop()
        # a function analysed under its callers' default device before a later analysis
        # found a call without one: analysed again without it (the facts add up)
        for func in self.functions.values():
            applied = self.applied_defaults.get(id(func))
            if applied is not None and self.call_defaults.get(id(func)) != {applied}:
                self.applied_defaults[id(func)] = None
                done = self.analyze_function(func, None, report=True)
                self.function_returns[func.name.value] = done.returns
        self.drop_cpu_payload_loads()
        self.param_load_assets()
        self.report_private_defaults()
        by_id = {id(f): name for name, f in self.functions.items()}
        for target, fact, needs_placement, evidence, omitted in self._pending:
            if evidence is not None and evidence[1].startswith(MOVED_ELSEWHERE):
                owner = evidence[1][len(MOVED_ELSEWHERE) :]
                if owner in self.moving_owners and (self.placed_seen or not needs_placement):
                    target.append(fact)
                continue
            if omitted is not None:
                # a default that stands in for a left-out argument: some same-file call
                # must leave it out (a function with no calls here: its callers' business)
                if self.every_call_passes(*omitted):
                    continue
                if not needs_placement and evidence is None:
                    target.append(fact)
                    continue
            if evidence is not None and evidence[0] < 0:
                if self.keeps_parameter_fact(-evidence[0], evidence[1], by_id):
                    target.append(fact)
            elif (self.placed_seen and evidence is None) or evidence in self.placed_params:
                # (a call here that passes that parameter a placed value places it)
                target.append(fact)
            elif evidence is not None and evidence[0] in by_id:
                # a module-level function whose parameter no call here places: another
                # module of the project may (`devlint.project` gives its name back)
                fname, pname = by_id[evidence[0]], evidence[1]
                caller = self.callers.get(fname, {}).get(pname)
                if caller is None:
                    self.conditional.setdefault(fname, set()).add(pname)
                else:
                    said = f"`{caller}` calls `{fname}` with `{pname}` on an accelerator"
                    target.append(replace(fact, contract=said))  # type: ignore[type-var]

    def keeps_parameter_fact(self, func_id: int, pname: str, by_id: dict[int, str]) -> bool:
        """Whether a factory meeting parameter `pname` of function `func_id` (DL005), or
        `.numpy()` on it (DL007), is reported where no caller is known to place it.  It
        is not when every call in this file passes it a CPU model or tensor (a script's
        `select_action(policy, obs)`); when no call here binds it and the function is
        dead code or a private helper of library code; when a script's helper reads the
        parameter into NumPy as it is; or, for a module-level function no call here
        feeds, when every call of the project passes it host data (a dataset module's
        `masks_to_boxes(masks)`)."""
        # a public function of library code has callers anywhere: this file's calls (its
        # relays included) are a few of them
        here = self.passed_through(func_id, pname, follow=not self.public_in_library(func_id))
        if not here and (self.is_unused_helper(func_id) or self.is_private_helper(func_id)):
            return False
        if not self.open_world and "placed" not in here and (func_id, pname) in self.numpy_params:
            # written for CPU data: no call here says otherwise, and one that did would
            # meet the `.numpy()` (DL007) as well
            return False
        if here and not here - ON_HOST:
            return False
        fname = by_id.get(func_id)
        if fname is not None and not here:
            # calls in other modules count only where they pass data that is on the host
            # by design (data-pipeline code, `.cpu()` copies): an example's
            # `torch.ones(3)` says nothing of how the helper is used
            self.open_params.setdefault(fname, set()).add(pname)
            if set(self.callers_fed.get(fname, {}).get(pname, ())) == {"host"}:
                return False
        return True

    def passed_through(
        self,
        func_id: int,
        pname: str,
        follow: bool = True,
        seen: frozenset[tuple[int, str]] = frozenset(),
    ) -> set[str]:
        """What the calls of this file pass parameter `pname` of function `func_id`, a
        relayed parameter (`self.pool(x, n_wins)` in `_Net.forward`) replaced by what is
        passed to it (`follow`), where its function's callers are all in sight: not a
        public function or method of library code, whose callers are anywhere
        ("other")."""
        kinds: set[str] = set()
        for kind in self.passed.get((func_id, pname), ()):
            if not kind.startswith(RELAY):
                kinds.add(kind)
                continue
            caller_id, caller_param = kind[len(RELAY) :].split(":", 1)
            key = (int(caller_id), caller_param)
            if (
                not follow
                or key in seen
                or key[0] not in self.definitions()
                or self.public_in_library(key[0])
            ):
                kinds.add("other")
                continue
            kinds |= self.passed_through(*key, seen=seen | {key}) or {"other"}
        return kinds

    def public_in_library(self, func_id: int) -> bool:
        """Function `func_id` is a public function or method of library code: its callers
        are out of sight."""
        found = self.definitions().get(func_id)
        return found is not None and self.open_world and self.is_public(*found)

    def is_unused_helper(self, func_id: int) -> bool:
        """A function or method of a script module that the module never names again
        (not called, not passed, not exported) and that the project never calls
        (`devlint.project.uncalled`): nothing hands its parameters a tensor.  Library
        code is public (open world); a program's helpers need a placing call anyway."""
        if self.open_world or self.self_contained:
            return False
        found = self.definitions().get(func_id)
        name = found[0].name.value if found is not None else None
        if name is None or name.startswith("__") or name == "forward":
            return False  # called by Python or by `nn.Module.__call__`
        if self.identifiers().get(name, 0) != 1:
            return False
        self.unused_helpers.add(name)
        return name in self.uncalled

    def is_private_helper(self, func_id: int) -> bool:
        """A private function or method of library code (`_segment`, `_Layer.forward`,
        `Net._mask`) that no call here binds (reached through a `ModuleList`, a
        callback): its callers are this module's own code, none of them seen passing
        anything, so where its parameters are is unknown, and findings stay certain."""
        found = self.definitions().get(func_id)
        return self.open_world and found is not None and not self.is_public(*found)

    def definitions(self) -> dict[int, tuple[cst.FunctionDef, Optional[ClassInfo]]]:
        """The module's functions and its classes' methods (with their class), by node
        id: built once, when a finding first asks."""
        if self._definitions is None:
            found: dict[int, tuple[cst.FunctionDef, Optional[ClassInfo]]] = {
                id(f): (f, None) for f in self.functions.values()
            }
            for info in self.classes.values():
                found.update({id(m): (m, info) for m in info.methods.values()})
            self._definitions = found
        return self._definitions

    def identifiers(self) -> dict[str, int]:
        """How often each identifier occurs in the module's code (names, attributes, the
        names of definitions; not strings or comments)."""
        if self._identifiers is None:
            counts: dict[str, int] = {}
            for node in walk(self.module):
                if type(node) is cst.Name:
                    counts[node.value] = counts.get(node.value, 0) + 1
            self._identifiers = counts
        return self._identifiers

    def param_load_assets(self) -> None:
        """`def restore(model, path): model.load_state_dict(torch.load(path))` in closed-
        world code (a script, a notebook), every run of which from this file passes the
        same string (`restore(model, "models/net.pt")`): the load reads that file, which
        `checkpoints.settle` can read (captum's tutorial helpers)."""
        if self.open_world or not self.load_literals:
            return
        for index, load in enumerate(self.facts.loads):
            given = self.load_literals.get(id(load.node))
            if load.asset is None and given is not None and len(given) == 1 and None not in given:
                (path,) = given
                self.facts.loads[index] = replace(load, asset=("cwd", path))

    def drop_cpu_payload_loads(self) -> None:
        """A load of a path (an attribute, a call or a literal: not a bare name, which
        means something else in every function) that this file writes only with
        payloads holding no accelerator tensor (strings, scalars, CPU copies) cannot
        meet a device-tagged tensor: no DL008."""
        safe = {key for key, clean in self.saved_payloads.items() if all(clean)}
        dropped = {id(load) for load, key in self.load_paths if key in safe}
        if dropped:
            self.facts.loads[:] = [f for f in self.facts.loads if id(f) not in dropped]

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        """A class is entered only to analyse its methods (after the module: see
        `leave_Module`); a class statement inside a scope holds nothing the scope uses."""
        return bool(not self.scopes and self.class_stack and self.class_stack[-1].node is node)

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> bool:
        return True  # a class body being entered for its methods

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        """Open the function's scope and walk its body in execution order.

        Three ways in: a request from `analyze_function` (every module-level function on
        its own, and a same-file call evaluated with the caller's arguments); a method of
        the class being entered; a def nested in the scope being analysed, analysed at once
        with the enclosing environment as its globals.  A module-level def met while the
        module itself is walked is analysed later, on its own."""
        request = self._requests[-1] if self._requests else None
        owner: Optional[ClassInfo] = None  # a method analysed on its own, through its class
        if request is not None and request.func is node and request.scope is None:
            scope = request.scope = self.function_scope(node, request)
        elif self.scopes:
            outer = self.scope
            if outer.exited or outer.func is None:
                return False
            scope = Scope(env={}, report=outer.report, func=node, cls=None)
            # a def nested in a guarded test runs only where the test does
            scope.guarded_rest = outer.guarded or any(
                self.is_guard_decorator(d.decorator) for d in node.decorators
            )
            scope.globals = {**(outer.globals or {}), **outer.env}
            scope.env.update(self.param_values(node, None, scope))
        elif self.class_stack and self.class_stack[-1].methods.get(node.name.value) is node:
            owner = self.class_stack[-1]
            scope = self.function_scope(node, FunctionRequest(node, owner, True))
        else:
            return False
        self.scopes.append(scope)
        self.walk_block(node.body.body)
        if scope.report and (owner is not None or (request is not None and not request.args)):
            self.check_returns(scope)
        if owner is not None:
            # what the method returns whatever its caller passes, for the module's summary
            self.method_returns[(owner.name, node.name.value)] = scope.returns
        return False

    def copies_to_host_here(self, scope: Scope) -> bool:
        """Whether the function being analysed copies some value to the host itself."""
        func = scope.func
        if func is None:
            return False
        known = self._host_copies.get(id(func))
        if known is None:
            known = self._host_copies[id(func)] = copies_to_host(func)
        return known

    def check_returns(self, scope: Scope) -> None:
        """A function that returns a CPU factory's tensor on one path (`if x.numel() == 0:
        return torch.zeros(0, 4)`) and a tensor on its input's or its module's device on
        another hands accelerator callers a CPU tensor on that path only: their next
        operation with it fails, far from the cause.  Not where the path exists only
        without the input (`if x is None: return torch.zeros(n)`): there is no input
        device to follow; nor for a conversion (`if isinstance(mask, np.ndarray): return
        torch.from_numpy(mask)`), whose input was host data."""
        culprits = [
            (n, v)
            for n, v in scope.returned
            if v.kind is Kind.TENSOR
            and v.origin is Origin.FACTORY
            and v.site is not None
            and v.scalar is False
            and is_cpu(v.device)
            and self.created_in.get(id(v.site)) == id(scope.func)
            and not converts_data(v.site)
        ]
        if not culprits:
            return
        # the other path follows the input: a parameter's, the module's or a device
        # variable's device, not an accelerator that a device test chose for that path
        # (`if device > -1: return torch.cuda.LongTensor(...)` / `return torch.arange(n)`)
        partners = [
            (n, v)
            for n, v in scope.returned
            if v.kind is Kind.TENSOR
            and is_placed(v.device)
            and all(atom.startswith("sym:") for atom in v.device)
        ]
        if not partners or scope.func is None:
            return
        partners.sort(key=lambda nv: is_weak(nv[1].device))
        partner = partners[0]
        for node, value in culprits:
            if without_input(scope.func, node, partner[1].device, partner[0]):
                continue
            self.record(node, Context.RETURN, "return", (node, value), partner, scope)

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        if self.scopes and self.scopes[-1].func is node:
            self.scopes.pop()

    def visit_ListComp(self, node: Union[cst.ListComp, cst.DictComp]) -> bool:
        """Open a comprehension's scope: its loop targets are bound in a copy of the
        enclosing environment, which `leave_ListComp` drops.  The element values go on
        `comprehension_values` for `ExpressionsMixin._comprehension`."""
        scope = self.scope
        self._outer_envs.append(scope.env)
        scope.env = dict(scope.env)
        comp: Optional[cst.CompFor] = node.for_in
        while comp is not None:
            it = self.eval(comp.iter, scope)
            self.bind(comp.target, self.element_of(it, comp.iter, scope), scope)
            for cond in comp.ifs:
                self.eval(cond.test, scope)
            comp = comp.inner_for_in
        elements = [node.key, node.value] if type(node) is cst.DictComp else [node.elt]
        self.comprehension_values.append([self.eval(e, scope) for e in elements])
        return False

    visit_SetComp = visit_ListComp
    visit_GeneratorExp = visit_ListComp
    visit_DictComp = visit_ListComp

    def leave_ListComp(self, node: cst.CSTNode) -> None:
        self.scope.env = self._outer_envs.pop()

    leave_SetComp = leave_ListComp
    leave_GeneratorExp = leave_ListComp
    leave_DictComp = leave_ListComp

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        """A lambda's body runs where it is called, with arguments unknown here: its
        scope is not analysed and its value is unknown (`eval_Lambda`)."""
        return False

    def add_fact(
        self,
        target: list,
        fact: object,
        needs_placement: bool,
        evidence: Optional[tuple[int, str]] = None,
        omitted: Optional[tuple[int, str]] = None,
    ) -> None:
        """Record a fact; one that needs the file to place something on an accelerator
        (and, with `evidence`, a call passing a placed tensor to that parameter) waits
        until the whole file has been walked.  Evidence with a negative function id asks
        the opposite: drop the fact if every same-file call passes that parameter a CPU
        value.  `omitted` (function id, parameter): drop it if every same-file call of
        that function passes that parameter."""
        if needs_placement or evidence is not None or omitted is not None:
            self._pending.append((target, fact, needs_placement, evidence, omitted))
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
        params = [*func.params.posonly_params, *func.params.params, *func.params.kwonly_params]
        if not params or (
            len(params) == 1 and cls is not None and params[0].name.value in ("self", "cls")
        ):
            return env  # nothing to bind: no need to read the body for tensor uses
        uses = self._tensor_uses.get(id(func))
        if uses is None:
            uses = self._tensor_uses[id(func)] = tensor_uses(func)
        used_as_tensor, numpy_only = uses
        if cls is not None and cls.is_module and func.name.value == "forward":
            # a module's inputs are tensors by convention
            used_as_tensor |= {p.name.value for p in func.params.params if p.default is None}
        is_test = fname.startswith("test")
        for i, p in enumerate(params):
            name = p.name.value
            if i == 0 and cls is not None and name in ("self", "cls"):
                continue
            self.check_device_default(p, scope)
            fixture, owner = (self.fixtures.get(name), None) if is_test else (None, None)
            method = cls.methods.get(name) if is_test and cls is not None else None
            if method is not None and is_returning_fixture(method):
                fixture, owner = method, cls  # a fixture defined in the test class
            if fixture is not None and fixture is not func:
                # pytest passes the fixture's value: where it lives is in this file
                env[name] = self.call_function(
                    fixture,
                    owner,
                    cst.Call(func=fixture.name),
                    [],
                    scope,
                    self_value=None if owner is None else self.self_value(owner),
                )
            else:
                env[name] = self.param_value(name, p, used_as_tensor, numpy_only)
        unknown = frozenset(n for n, v in env.items() if v is UNKNOWN)
        if unknown:
            for name in tensor_containers(func, unknown):
                # `for out in outputs: total += out.sum()`: a sequence of tensors that
                # live wherever the caller's do
                element = tensor(sym(f"param:{name}"), origin=Origin.PARAM, scalar=None)
                env[name] = Value(Kind.BATCH, sym(f"param:{name}"), Origin.PARAM, elem=element)
            for name, attr in tensor_attributes(func, unknown):
                # `deg.scatter_add_(0, data.edge_index[0], ...)`: the caller's container
                # holds its tensors wherever the caller put them
                env[f"{name}.{attr}"] = tensor(
                    sym(f"param:{name}"), origin=Origin.PARAM, scalar=None
                )
        return env

    def param_value(
        self,
        name: str,
        p: cst.Param,
        used_as_tensor: set[str],
        numpy_only: frozenset[str] = frozenset(),
    ) -> Value:
        ann = self.text(p.annotation.annotation) if p.annotation is not None else ""
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
        if N.is_criterion_name(name) and not ann and name not in used_as_tensor:
            # a loss handed in: where it is does not matter, its inputs must agree
            return Value(Kind.MODULE, DEV_ANY, Origin.PARAM, oid=self.new_oid(), type_name="loss")
        if name in used_as_tensor:
            return tensor(sym(f"param:{name}"), origin=Origin.PARAM, scalar=None)
        if name in numpy_only:
            # a tensor only if a caller in this file passes one (see `placed_params`)
            return tensor(
                sym(f"param:{name}"), origin=Origin.PARAM, scalar=None, type_name=NUMPY_PARAM
            )
        if not ann and type(p.default) in (cst.Integer, cst.Float):
            return NUMBER  # `def __init__(self, max_new_tokens=50)`
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
            and (scope.func is None or places_with(scope.func, p.name.value))
        ):
            literal = f"{p.name.value}={self.text(p.default)}"
            name = self.callable_name(scope)
            if name is not None:
                # a default only this file's calls can leave out: decided once every call
                # in this file is seen
                if (
                    not scope.guarded
                    and not self.called_under_device_tests(scope)
                    and self.once("private-default", id(p.default))
                ):
                    assert scope.func is not None
                    self._private_defaults.append(
                        (scope.func, name, p, literal, scope.receives_tensors, scope.cls)
                    )
                return
            self.add_hardcoded(p.default, literal, "default", scope)

    def callable_name(self, scope: Scope) -> Optional[str]:
        """The name callers call the function of `scope` by, where every caller is in
        this file: a private helper (`_get_pixels`), or, in closed-world code (a
        script, a test: not library code, whose callers are anywhere), a function or a
        class's `__init__` (called by the class's name); None otherwise."""
        func = scope.func
        if func is None:
            return None
        fname = func.name.value
        if fname.startswith("_") and not fname.endswith("__"):
            return fname
        if self.open_world:
            return None
        if fname == "__init__":
            return scope.cls.name if scope.cls is not None else None
        return None if fname.startswith("__") else fname

    def every_call_passes(self, func_id: int, param: str) -> bool:
        """This file calls the function and every call passes `param` (a default of it
        is never used here)."""
        sites = self.call_sites.get(func_id)
        return bool(sites) and sites <= self.passing_sites.get((func_id, param), set())

    def report_private_defaults(self) -> None:
        """`def _get_pixels(..., device="cuda")`: a hard-coded default that only this
        file's calls can leave out (`callable_name`: a private helper, or a function or
        class of closed-world code) fails only for a call that omits the argument; when
        every call of this file passes it (and the name is used nowhere else: no
        callback, no export, no subclass), none does."""
        if not self._private_defaults:
            return
        uses = self.identifiers()
        for func, name, p, literal, receives, cls in self._private_defaults:
            # the def's own name (or the class's, and the class naming itself in its body:
            # `super(UNet, self)`), and one name per call: used nowhere else
            own = 1
            if func.name.value == "__init__" and cls is not None:
                own = sum(1 for n in walk(cls.node) if type(n) is cst.Name and n.value == name)
            if (
                self.every_call_passes(id(func), p.name.value)
                and uses.get(name, 0) == len(self.call_sites[id(func)]) + own
            ):
                continue
            if cls is not None and self.every_method_call_passes(func, p.name.value, uses):
                continue
            self.facts.hardcoded.append(HardcodedDevice(p.default, literal, "default", receives))

    def every_method_call_passes(
        self, func: cst.FunctionDef, param: str, uses: dict[str, int]
    ) -> bool:
        """`engine.allocate_buffers(shape, device=d)` on a receiver the analysis cannot
        resolve (`self.engine[name]`): a method whose name only its own definition and
        calls of that name use in this file, and every one of those calls passes `param`,
        never runs with that parameter's default here."""
        name = func.name.value
        if name == "__init__":
            return False
        calls = [
            n
            for n in walk(self.module)
            if type(n) is cst.Call and type(n.func) is cst.Attribute and n.func.attr.value == name
        ]
        return (
            bool(calls)
            and uses.get(name, 0) == len(calls) + 1
            and all(param in parameter_names(func, True, c.args) for c in calls)
        )

    def analyze_function(
        self,
        func: cst.FunctionDef,
        cls: Optional[ClassInfo],
        report: bool,
        args: Optional[dict[str, Value]] = None,
        self_value: Optional[Value] = None,
        depth: int = 0,
        default_device: Optional[Device] = None,
        reporter: Optional[Scope] = None,
    ) -> Scope:
        """Analyse `func` (with `args` bound to its parameters, when given): the visitor
        enters it through `visit_FunctionDef`, which opens the scope this returns."""
        request = FunctionRequest(
            func,
            cls,
            report,
            args,
            self_value,
            depth,
            default_device=default_device,
            reporter=reporter,
        )
        self._requests.append(request)
        try:
            func.visit(self)
        finally:
            self._requests.pop()
        assert request.scope is not None
        return request.scope

    def function_scope(self, func: cst.FunctionDef, request: FunctionRequest) -> Scope:
        """The scope a function starts with: parameters, `self` and its attributes."""
        cls = request.cls
        scope = Scope(env={}, report=request.report, func=func, cls=cls, depth=request.depth)
        scope.default_device = request.default_device
        scope.reporter = request.reporter
        if (
            request.args is None
            and cls is None
            and self.applied_defaults.get(id(func), ()) is not None
            and (not self.open_world or not self.is_public_api(scope))
        ):
            # closed world: a function that every same-file call runs under one default
            # device (`with torch.device(device): sample(...)`) runs under it
            defaults = self.call_defaults.get(id(func), set())
            if len(defaults) == 1 and None not in defaults:
                (scope.default_device,) = defaults
                self.applied_defaults[id(func)] = scope.default_device
        scope.globals = self.module_env
        if (
            self.module_guarded
            or any(self.is_guard_decorator(d.decorator) for d in func.decorators)
            or (cls is not None and self.class_guarded(cls))
            or (request.args is None and self.called_only_guarded(func, cls))
        ):
            scope.guarded_rest = (
                True  # @pytest.mark.skipif(not torch.cuda.is_available()), @onlyCUDA
            )
        params = self.param_values(func, cls, scope)
        if request.args is None and runs_with_defaults(func):
            # a test runner calls `test_prior(self, cuda=False)` with its defaults
            params.update(default_constants(func, {}))
        elif (
            request.args is None
            and cls is None
            and self.functions.get(func.name.value) is func
            and (not self.open_world or not self.is_public_api(scope))
        ):
            # closed world: a flag every call of this file sets alike decides its branches
            if self._name_calls is None:
                self._name_calls = name_calls(self.module)
            for pname, flag in agreed_flags(func, self._name_calls).items():
                params[pname] = constant(flag)
        if request.args:
            params.update(request.args)
        scope.receives_tensors = any(v.kind is Kind.TENSOR for v in params.values())
        if cls is not None:
            scope.env.update(self.self_attrs(cls, func))
            scope.env["self"] = request.self_value or self.self_value(cls, func)
        scope.env.update(params)
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
            if value.kind is Kind.MODULE and cls.bases and is_cpu(value.device):
                # a class with unknown bases (a diffusers `ModelMixin`, say) may itself be
                # moved as a whole: its submodules' device is not known
                return replace(value, device=DEV_UNKNOWN)
        if value.origin is Origin.PLAIN_ATTR:
            return value
        if value.kind is Kind.MODULE and cls.is_module:
            return replace(value, device=sym("self"), origin=Origin.NONE)
        if (
            value.kind is Kind.BATCH
            and cls.is_module
            and value.elem is not None
            and value.elem.kind is Kind.MODULE
        ):
            # a plain list of submodules: they move with the module only when registered
            # too (`self.add_module(name, layer)`); unregistered, where they are is not
            # known here
            home = sym("self") if registers_submodules(cls.methods.get("__init__")) else DEV_UNKNOWN
            member = Value(Kind.MODULE, home, type_name=value.elem.type_name)
            return Value(Kind.BATCH, home, elem=member)
        if value.kind is Kind.TENSOR and cls.is_module:
            if value.device == sym("self"):
                return value
            return UNKNOWN
        if value.kind is Kind.DEVICE:
            return Value(Kind.DEVICE, sym(key))
        return value

    # ------------------------------------------------------------------ statements
    # Statements are visited in execution order: the module's by LibCST's traversal, a
    # block's by `walk_block`, through which each compound statement takes over the
    # traversal of its blocks (branches join, loops run to a fixpoint, `with` and `try`
    # keep their meaning).  Once a statement certainly exits (`return`, `raise`,
    # `sys.exit()`), `Scope.exited` is set and the rest of the block is not analysed.

    def walk_block(self, statements: Sequence[cst.CSTNode]) -> bool:
        """Visit a block's statements (or a one-line suite's small statements) in order;
        False when the block certainly exits."""
        scope = self.scope
        for stmt in statements:
            if isinstance(stmt, cst.BaseSmallStatement):
                scope.current_small = stmt
            stmt.visit(self)
            if scope.exited:
                return False
        return True

    def requires_accelerator_here(self, node: cst.CSTNode, scope: Scope) -> None:
        """A hard-coded accelerator that certainly runs whenever its scope does (a
        statement of the function's or module's own body, or of a `with` there, outside
        conditional expressions): without an accelerator the scope stops here, so what
        follows runs only where there is one.  A later hard-coded use in the same flow is
        the same defect, reported once (issue 13, class 8)."""
        small = scope.current_small
        if small is None or scope.guarded or (scope.func is None and self.notebook):
            # (a notebook's cells are run, and fixed, one by one; a script's own
            # statements run in order, as a function's do)
            return
        owner: cst.CSTNode = scope.func if scope.func is not None else self.module
        done = self._unconditional.get(id(owner))
        if done is None:
            done = self._unconditional[id(owner)] = unconditional_statements(owner.body)
        if id(small) in done and id(node) not in conditional_parts(small):
            scope.guarded_rest = True
            # the script's own statements after it; not its functions, which importers
            # and earlier statements may call (`module_guarded`)
            self.module_requires_accelerator |= scope.func is None

    def walk_branch(self, suite: cst.BaseSuite) -> bool:
        """`walk_block` for a branch: the scope's exit flag is the branch's own, and is
        reset for the next branch (the caller decides whether the statement exits)."""
        falls = self.walk_block(suite.body)
        self.scope.exited = False
        return falls

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> bool:
        if not self.dead():
            self.walk_block(node.body)
        return False

    visit_SimpleStatementSuite = visit_SimpleStatementLine

    def visit_Assign(self, small: cst.Assign) -> bool:
        scope = self.scope
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
        if len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Attribute):
            self.facts.assignments[id(small.targets[0].target)] = small
        for target in small.targets:
            self.bind(target.target, value, scope)
        return False

    def visit_AnnAssign(self, small: cst.AnnAssign) -> bool:
        if small.value is not None:
            self.bind(small.target, self.eval(small.value, self.scope), self.scope)
        return False

    def visit_AugAssign(self, small: cst.AugAssign) -> bool:
        scope = self.scope
        left = self.eval(small.target, scope)
        right = self.eval(small.value, scope)
        # the target is the output of an in-place operation: a 0-dim CPU tensor mixes
        # with accelerator operands only as an input (`total = torch.tensor(0.0);
        # total += loss` fails on the GPU), so here it counts as having dimensions
        target = left
        if left.kind is Kind.TENSOR and left.scalar is True and is_cpu(left.device):
            target = replace(left, scalar=False)
        result = self.combine(
            small,
            [(small.target, target), (small.value, right)],
            scope,
            op_text=self.text(small.operator).strip() or "op",
        )
        if result.kind is Kind.TENSOR and left.kind is Kind.TENSOR:
            result = replace(result, scalar=left.scalar)
        self.bind(small.target, result, scope)
        return False

    def visit_Expr(self, small: cst.Expr) -> bool:
        """An expression statement; a bare move (`x.to(device)`) is a statement fact, and
        `sys.exit()` ends the scope."""
        scope = self.scope
        expr = small.value
        if (
            type(expr) is cst.Call
            and type(expr.func) is cst.Attribute
            and expr.func.attr.value in ("to", "cuda", "cpu")
        ):
            self.eval_move(expr, scope, statement=small)
            return False
        self.eval(expr, scope)
        if type(expr) is cst.Call and is_exit_call(expr):
            scope.exited = True
        return False

    def visit_Return(self, small: cst.Return) -> bool:
        scope = self.scope
        value = self.eval(small.value, scope) if small.value else OTHER
        scope.returns.append(value)
        if small.value is not None:
            scope.returned.append((small.value, value))
        scope.exited = True
        return False

    def visit_Raise(self, small: cst.Raise) -> bool:
        if small.exc is not None:
            self.eval(small.exc, self.scope)
        self.scope.exited = True
        return False

    def visit_Assert(self, small: cst.Assert) -> bool:
        self.eval(small.test, self.scope)
        if self.is_device_condition(small.test):
            self.scope.guarded_rest = True
        self.refine_refused(small)
        return False

    # -- compound statements
    def visit_If(self, stmt: cst.If) -> bool:
        if not self.dead():
            self.scope.exited = not self.walk_if(stmt, self.scope)
            self.refine_refused(stmt)
        return False

    def refine_refused(self, stmt: cst.CSTNode) -> None:
        """After `if x.is_cuda: raise ...` (or `assert not x.is_cuda`), `x` is on the CPU:
        code that refuses accelerator tensors runs only with CPU ones."""
        if self.dead():
            return
        scope = self.scope
        for name in refused_on_accelerator(stmt):
            value = self.lookup(name, scope)
            if value is not None and value.kind is Kind.TENSOR and not is_cpu(value.device):
                scope.env[name] = replace(value, device=DEV_CPU, origin=Origin.NONE, site=None)

    def walk_if(self, stmt: cst.If, scope: Scope) -> bool:
        """Both branches from the same environment, joined; False when both exit.

        A test whose outcome is known (a helper's flag bound to the caller's `False`, a
        `device=None` default tested with `is not None`) takes only its live branch: the
        branch that cannot run is not joined in.  Each branch starts knowing what the test
        says about devices: CPU tests (`cpu_test`) and device-equality checks
        (`refine_same_device`)."""
        known = truth(self.eval(stmt.test, scope))
        if known is not None:
            return self.walk_live_branch(stmt, scope, known)
        device_test = self.is_device_condition(stmt.test)
        on_cpu = self.cpu_test(stmt.test, scope) if device_test else None
        before = dict(scope.env)
        if device_test:
            scope.guard += 1
        refined = {}
        if on_cpu is not None and on_cpu[2]:
            refined = self.refine_to_cpu(scope, on_cpu[0], on_cpu[1])
        # what a device-equality check learns holds after the branch too (no unrefine)
        self.refine_same_device(stmt.test, True, scope)
        tested = cuda_tested(stmt.test)
        if tested is not None:
            scope.follows.append(tested)
        on_accelerator = accelerator_branch(stmt.test)
        scope.accelerator_only += on_accelerator is True
        body_falls = self.walk_branch(stmt.body)
        scope.accelerator_only -= on_accelerator is True
        if tested is not None:
            scope.follows.pop()
        self.unrefine(scope, refined)
        if device_test:
            scope.guard -= 1
        body_env = scope.env
        scope.env = dict(before)
        refined = {}
        if on_cpu is not None and not on_cpu[2]:
            refined = self.refine_to_cpu(scope, on_cpu[0], on_cpu[1])
        self.refine_same_device(stmt.test, False, scope)
        else_falls = True
        if stmt.orelse is not None:
            if device_test:
                scope.guard += 1
            scope.accelerator_only += on_accelerator is False
            if isinstance(stmt.orelse, cst.If):
                else_falls = self.walk_if(stmt.orelse, scope)  # `elif`
            else:
                else_falls = self.walk_branch(stmt.orelse.body)
            scope.accelerator_only -= on_accelerator is False
            if device_test:
                scope.guard -= 1
        self.unrefine(scope, refined)
        else_env = scope.env
        if (
            device_test
            and not body_falls
            and stmt.orelse is None
            and on_accelerator is not True
            and not exits_with_accelerators(stmt.test)
        ):
            # `if not torch.cuda.is_available(): raise ...`
            scope.guarded_rest = True
        if body_falls and else_falls:
            scope.env = self.join_envs(body_env, else_env, device_test)
            filled = self.default_filled(stmt, before, body_env, else_env, scope.func)
            if filled is not None:
                scope.env[filled[0]] = self.filling(filled[1], filled[0], scope)
        elif body_falls:
            scope.env = body_env
        elif else_falls:
            scope.env = else_env
        else:
            scope.env = self.join_envs(body_env, else_env, device_test)
            return False
        return True

    @staticmethod
    def default_filled(
        stmt: cst.If,
        before: dict[str, Value],
        body_env: dict[str, Value],
        else_env: dict[str, Value],
        func: Optional[cst.FunctionDef] = None,
    ) -> Optional[tuple[str, Value]]:
        """`if mask is None: mask = torch.ones(n)` (or `if mask is not None: mask =
        mask.transpose(1, 2) else: mask = torch.ones(n)`): after it, `mask` is the CPU
        tensor on the path of every caller that omits it (what the other callers pass is
        theirs to place), so that path's mixing is reported rather than lost in the join
        with an unknown argument.  Likewise a parameter that defaults to a number, made a
        tensor when it is one (`if isinstance(threshold, Number): threshold =
        torch.tensor([threshold])`)."""
        numeric = _defaults_to_number(func) if func is not None else set()
        test = assigned_once(func, stmt.test) if func is not None and numeric else stmt.test

        def tested(default_path: bool) -> Optional[str]:
            name = none_tested(test, default_path)
            if name is None and numeric:
                name = number_tested(test, default_path)
                if name not in numeric:
                    return None
            return name

        name = tested(True)
        if name is not None:
            filled, given = body_env.get(name), else_env.get(name)
        else:
            name = tested(False)
            if name is None or stmt.orelse is None or isinstance(stmt.orelse, cst.If):
                return None
            filled, given = else_env.get(name), body_env.get(name)
        if name not in before or filled is None or not is_default_fill(filled):
            return None
        if given is None or (given.kind is Kind.TENSOR and is_cpu(given.device)):
            return None  # the caller's path is on the CPU too: no join to lose
        return name, filled

    @staticmethod
    def filling(value: Value, name: str, scope: Scope) -> Value:
        """`value` standing in for parameter `name` of the scope's function, when left out."""
        func = scope.func
        if func is None:
            return value
        if not has_param(func, name):
            return value
        return replace(value, fills=(id(func), name))

    def walk_live_branch(self, stmt: cst.If, scope: Scope, taken: bool) -> bool:
        """`walk_if` for a test whose outcome is known: only the branch it selects runs
        (under the test's guard, when it is a device test); False when that branch exits."""
        device_test = self.is_device_condition(stmt.test)
        if device_test:
            scope.guard += 1
        try:
            if taken:
                return self.walk_branch(stmt.body)
            if stmt.orelse is None:
                return True
            if isinstance(stmt.orelse, cst.If):
                return self.walk_if(stmt.orelse, scope)  # `elif`
            return self.walk_branch(stmt.orelse.body)
        finally:
            if device_test:
                scope.guard -= 1

    def cpu_test(
        self, test: cst.BaseExpression, scope: Scope
    ) -> Optional[tuple[set[str], set[str], bool]]:
        """A test that says where something is on the CPU: `device == "cpu"`,
        `self.device == CPU_DEVICE`, `x.device.type != "cpu"`, `x.is_cuda`, each possibly
        negated.  Returns the device atoms and tensor names that are on the CPU, and in
        which branch (True: where the test holds), so that `.numpy()` under
        `if self.device == cpu:` is not reported."""
        holds = True
        while isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            test, holds = test.expression, not holds
        if isinstance(test, cst.Attribute) and test.attr.value == "is_cuda":
            name = N.dotted(test.value)
            return (set(), {name}, not holds) if name else None
        if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
            return None
        target = test.comparisons[0]
        if isinstance(target.operator, (cst.NotEqual, cst.IsNot)):
            holds = not holds
        elif not isinstance(target.operator, (cst.Equal, cst.Is)):
            return None
        left, right = test.left, target.comparator
        if self.is_cpu_device(right, scope):
            side = left
        elif self.is_cpu_device(left, scope):
            side = right
        else:
            return None
        if isinstance(side, cst.Attribute) and side.attr.value == "type":
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

    def is_cpu_device(self, node: cst.BaseExpression, scope: Scope) -> bool:
        """`"cpu"`, `torch.device("cpu")`, or a name bound to the CPU device only."""
        if N.string_value(node) == "cpu":
            return True
        if isinstance(node, cst.Call) and node.args:
            return (
                self.imports.qualify(node.func) == "torch.device"
                and N.string_value(node.args[0].value) == "cpu"
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

    def visit_Match(self, stmt: cst.Match) -> bool:
        """Every case from the environment before the match, all joined (no case may
        match, so the environment before is joined in too)."""
        if self.dead():
            return False
        scope = self.scope
        self.eval(stmt.subject, scope)
        before = dict(scope.env)
        envs = []
        for case in stmt.cases:
            scope.env = dict(before)
            self.walk_branch(case.body)
            envs.append(scope.env)
        env = before
        for e in envs:
            env = self.join_envs(env, e, False)
        scope.env = env
        return False

    def join_envs(
        self, a: dict[str, Value], b: dict[str, Value], device_test: bool
    ) -> dict[str, Value]:
        # keys in a fixed order (a's, then b's own): what is looked up by scanning the
        # environment (the device variable a help text names) must not depend on hashing
        # (a path saved on one side only stays saved: `torch.save(best, path)` under
        # `if better:` in the training loop, `torch.load(path)` after it reads what this
        # run wrote, on this machine)
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
        moved = [v for v in (a, b) if v.type_name == MOVED and v.kind is Kind.UNKNOWN]
        if len(moved) == 1:
            other = b if moved[0] is a else a
            if (
                is_placed(moved[0].device)
                and not partly_cpu(moved[0].device)
                and other.kind is Kind.UNKNOWN
                and not is_known(other.device)
            ):
                # `if conf["use_gpu"]: model.cuda()` with `model` of unknown type: on the
                # accelerator when one is chosen, like a CPU model moved on one side
                return replace(moved[0], device=sym("auto"))
        if partly_cpu(joined.device):
            placed = [v for v in (a, b) if is_placed(v.device) and not partly_cpu(v.device)]
            moves = joined.moves_inputs or (len(placed) == 1 and placed[0].moves_inputs)
            return replace(
                joined, device=sym("auto"), origin=Origin.NONE, site=None, moves_inputs=moves
            )
        return joined

    def visit_For(self, stmt: cst.For) -> bool:
        """The body runs to a fixpoint with the target bound to an element of the
        iterable; then the `else` block."""
        if self.dead():
            return False
        scope = self.scope
        iterable = self.eval(stmt.iter, scope)
        if iterable is UNKNOWN and N.is_loader_name(N.dotted(stmt.iter) or ""):
            # `dataloader = data.to_dataloader(...)` or whatever the caller gave: named
            # a loader, iterated as one, known no better; as a loader-named parameter
            iterable = self.default_loader()
        elem = self.element_of(iterable, stmt.iter, scope)
        targets = frozenset(target_names(stmt.target))
        if iterable.type_name == HEURISTIC_LOADER:
            self.heuristic_sites.add(id(stmt.target))
        loop = LoopInfo(targets, _first_statement(stmt.body), iterated_container(stmt.iter))
        scope.loops.append(loop)
        self.run_loop(
            lambda: (
                self.bind(stmt.target, elem, scope, site=stmt.target),
                self.walk_branch(stmt.body),
            ),
            scope,
        )
        scope.loops.pop()
        if (
            loop.container is not None
            and loop.stored is not None
            and stores_each_tensor_entry(stmt, loop.container)
        ):
            # `for k, v in batch.items(): if torch.is_tensor(v): batch[k] = v.to(d)`: the
            # entries the body skipped are not tensors; the batch's tensors are moved
            held = scope.env.get(loop.container)
            if held is not None and held.kind is Kind.BATCH:
                scope.env[loop.container] = Value(
                    Kind.BATCH, loop.stored.device, held.origin, site=held.site, elem=loop.stored
                )
        if stmt.orelse is not None:
            self.walk_branch(stmt.orelse.body)
        return False

    def visit_While(self, stmt: cst.While) -> bool:
        if self.dead():
            return False
        scope = self.scope
        scope.loops.append(LoopInfo(frozenset()))
        self.run_loop(lambda: (self.eval(stmt.test, scope), self.walk_branch(stmt.body)), scope)
        scope.loops.pop()
        if stmt.orelse is not None:
            self.walk_branch(stmt.orelse.body)
        return False

    def run_loop(self, body: Callable[[], object], scope: Scope) -> None:
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

    def visit_With(self, stmt: cst.With) -> bool:
        """`with torch.device(...)` (or a device variable) sets the default device of the
        block; the block of `pytest.raises(...)` is meant to fail and reports nothing."""
        if self.dead():
            return False
        scope = self.scope
        saved_default, saved_report = scope.default_device, scope.report
        for item in stmt.items:
            expr = item.item
            is_call = type(expr) is cst.Call
            if is_call and (N.dotted(expr.func) or "").rsplit(".", 1)[-1] in (
                "raises",
                "assertRaises",
                "assertRaisesRegex",
            ):
                scope.report = False
            q = self.imports.qualify(expr.func) if is_call else None
            value = self.eval(expr, scope)
            if q == "torch.device" and is_call:
                scope.default_device = value.device if value.kind is Kind.DEVICE else DEV_UNKNOWN
            elif value.kind is Kind.DEVICE and type(expr) in (cst.Name, cst.Attribute):
                # `with device:` (a torch.device variable) sets the default device too
                scope.default_device = value.device
            if item.asname is not None:
                self.bind(item.asname.name, value if q != "builtins.open" else UNKNOWN, scope)
        falls = self.walk_block(stmt.body.body)
        scope.default_device, scope.report = saved_default, saved_report
        scope.exited = not falls
        return False

    def visit_Try(self, stmt: Union[cst.Try, cst.TryStar]) -> bool:
        """The body (and `else`), then each handler from the join of the environments
        before and after the body; `finally` last."""
        if self.dead():
            return False
        scope = self.scope
        before = dict(scope.env)
        body_falls = self.walk_branch(stmt.body)
        if stmt.orelse is not None and body_falls:
            body_falls = self.walk_branch(stmt.orelse.body)
        env = scope.env
        any_falls = body_falls
        for handler in stmt.handlers:
            scope.env = self.join_envs(before, env, False)
            if handler.name is not None:
                self.bind(handler.name.name, UNKNOWN, scope)
            if self.walk_branch(handler.body):
                env = self.join_envs(env, scope.env, False) if any_falls else scope.env
                any_falls = True
        scope.env = env
        if stmt.finalbody is not None:
            self.walk_branch(stmt.finalbody.body)
        scope.exited = not any_falls
        return False

    visit_TryStar = visit_Try

    # ------------------------------------------------------------------ binding
    def bind(
        self,
        target: cst.BaseExpression,
        value: Value,
        scope: Scope,
        site: Optional[cst.CSTNode] = None,
    ) -> None:
        if value.kind is Kind.DEVICE and value.device == sym("auto"):
            # `device = torch.device("cuda" if ... else "cpu")`: from here on this device is
            # "the value of `device`", which messages and fixes can name
            key = N.dotted(target)
            if key is not None:
                value = replace(value, device=sym(key))
        if self.saved_payloads:
            self.forget_saves(N.dotted(target), scope)
        if type(target) is cst.Name:
            if value.origin is Origin.LOADER and site is not None:
                value = replace(value, site=site)
            scope.env[target.value] = value
            # rebinding `x` forgets what we knew about `x.attr`
            prefix = target.value + "."
            for key in [k for k in scope.env if k.startswith(prefix)]:
                del scope.env[key]
        elif type(target) is cst.Attribute:
            key = N.dotted(target)
            if key is None:
                self.eval(target.value, scope)
                return
            self.note_graft(target, value, scope)
            if (
                key.startswith("self.")
                and key.count(".") == 1
                and scope.func is not None
                and scope.func.name.value == "__init__"
                and scope.cls is not None
            ):
                value = self.init_attr_value(key, value, target, scope)
            scope.env[key] = value
        elif type(target) in (cst.Tuple, cst.List):
            elements = [e for e in target.elements]
            parts = self.unpack(value, len(elements))
            for element, part in zip(elements, parts):
                if type(element) is cst.StarredElement:
                    self.bind(element.value, UNKNOWN, scope)
                else:
                    self.bind(element.value, part, scope, site=site)
        elif type(target) is cst.Subscript:
            self.eval_indices(target, scope)
            base_key = N.dotted(target.value)
            key = subscript_key(target)
            # a container of the enclosing function, stored into from a nested one
            # (`index[t] = index[t].to(x.device)` in a closure): the store shadows it
            # here, where its next read is
            base = self.lookup(base_key, scope) if base_key is not None else None
            if base_key is not None and base is not None:
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
                    loop = scope.loops[-1] if scope.loops else None
                    if (
                        loop is not None
                        and loop.container == base_key
                        and set(names_in(target.slice[0].slice)) & loop.targets
                    ):
                        loop.stored = value
                elif base.kind is Kind.BATCH and base.origin is Origin.LOADER:
                    # `batch["x"] = batch["x"].to(device)`: the batch is now partly moved
                    scope.env[base_key] = replace(
                        base,
                        entries=((key, value),),
                        elem=base.elem or tensor(base.device, origin=base.origin, site=base.site),
                    )
        elif type(target) is cst.StarredElement:
            self.bind(target.value, UNKNOWN, scope)

    def eval_indices(self, target: cst.Subscript, scope: Scope) -> None:
        """The indices of a store (`emb[mask.numpy()] = nan`) run before it: what they
        do (a `.numpy()`, a call) counts like any other expression."""
        for element in target.slice:
            part = element.slice
            if type(part) is cst.Index:
                self.eval(part.value, scope)
            elif type(part) is cst.Slice:
                for bound in (part.lower, part.upper, part.step):
                    if bound is not None:
                        self.eval(bound, scope)

    def note_graft(self, target: cst.Attribute, value: Value, scope: Scope) -> None:
        """`model.head = nn.Linear(...)` after `model.to(device)`: the new layer is on the
        CPU, so the moved model is now partly there.  The model's value remembers the
        assignment (`via`, `site`) until it is moved again; a call of it with an input on
        the accelerator is reported at the assignment (`module_call`)."""
        if type(target.value) is not cst.Name or target.value.value == "self":
            return
        if value.kind is not Kind.MODULE or not is_cpu(value.device) or value.oid == 0:
            return
        name = target.value.value
        base = self.lookup(name, scope)
        if (
            base is None
            or base.kind is not Kind.MODULE
            or not may_be_placed(base.device)
            or base.moves_inputs
        ):
            return
        scope.env[name] = replace(base, via=GRAFT + self.text(target), site=target)

    @staticmethod
    def forget_saves(name: Optional[str], scope: Scope) -> None:
        """Rebinding `name` (`path = other`, `self.path = ...`) means a path expression
        that mentions it may name another file: what was saved there no longer counts."""
        if name is None:
            return
        saved = [k for k in scope.env if k.startswith(SAVED)]
        if not saved:
            return  # most scopes save nothing: no pattern to build
        pattern = re.compile(rf"(?<![\w.]){re.escape(name)}(?![\w])")
        for key in saved:
            # a name inside a plain string literal (`"model.pth"` after `model = Net()`)
            # is text, not the variable; an f-string's may be either
            if pattern.search(_PLAIN_STRING.sub('""', key)):
                del scope.env[key]

    def init_attr_value(self, key: str, value: Value, target: cst.CSTNode, scope: Scope) -> Value:
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
        if value.type_name == DEVICE_TOLD or (
            value.type_name == MOVED and value.kind is Kind.UNKNOWN
        ):
            return [value] * n  # each part of what was moved is moved
        if value.kind is Kind.MODULE and value.origin is Origin.PARAM:
            # `model, layer = model`: a parameter named like a model that is a pair the
            # caller made; its parts are where the caller put them, as the whole was
            return [value] * n
        if value.kind in (Kind.BATCH, Kind.TENSOR) and is_known(value.device):
            el = value.elem or tensor(value.device, origin=value.origin, site=value.site)
            if value.entries is not None and value.elem is None:
                return [UNKNOWN] * n
            return [el] * n
        return [UNKNOWN] * n


_RUNTIME_METHODS = frozenset({"forward", "__call__"})


def _reached(info: ClassInfo, roots: list[str]) -> set[str]:
    """The methods `roots` call, directly or through the class's other methods."""
    reached: set[str] = set()
    todo = list(roots)
    while todo:
        method = info.methods.get(todo.pop())
        if method is None:
            continue
        for name in called_method_names(method) - reached:
            reached.add(name)
            todo.append(name)
    return reached


def _defaults_to_number(func: cst.FunctionDef) -> set[str]:
    """The parameters of `func` whose default is a number literal (`threshold=0.5`)."""
    out = set()
    for p in (*func.params.params, *func.params.kwonly_params):
        d = p.default
        if type(d) is cst.UnaryOperation:
            d = d.expression
        if type(d) in (cst.Integer, cst.Float):
            out.add(p.name.value)
    return out


def analyze(
    module: cst.Module,
    source: str,
    device_names: Sequence[str] = (),
    options: Optional[EngineOptions] = None,
) -> FileFacts:
    """Compute the device facts of one parsed file (`source`: its text; `options`: what
    else decides them, `EngineOptions`; `device_names` alone is a shorthand).

    The evaluation recurses along nested expressions; generated code nests deeper than
    Python's default limit allows, so such a file is analysed again in a thread with a
    large stack and a high recursion limit.  RecursionError escapes only beyond that."""
    if options is None:
        options = EngineOptions(device_names=tuple(device_names))
    try:
        return _run(module, source, options)
    except RecursionError:
        return _analyze_deep(module, source, options)


def _run(module: cst.Module, source: str, options: EngineOptions) -> FileFacts:
    forget_calls()
    try:
        with remembering(module):
            visitor = DeviceFlowVisitor(module, source, options)
            module.visit(visitor)
            visitor.facts.summary = summarise(visitor)
            _apply_default_device(visitor)
            visitor.facts.asked = frozenset(visitor.asked)
    finally:
        forget_calls()
    return visitor.facts


def _apply_default_device(visitor: DeviceFlowVisitor) -> None:
    """In a file that places nothing itself (`engine.default_device`), the factories that
    meet a parameter's tensor, and in a module class that picks the accelerator itself by
    a flag (`places_itself_by_flag`), its plain tensor attributes made by such factories:
    dropped when the project makes an accelerator the default device; otherwise the
    summary asks the project whether it does."""
    facts = visitor.facts
    if not facts.mismatches:
        return
    sites = []
    if places_nothing(facts.source):
        sites = [
            m
            for m in facts.mismatches
            if m.culprit.value.site is not None
            and follows_default(m, facts.text(m.culprit.value.site))
        ]
    sites += _attributes_for_the_default_device(visitor)
    if not sites:
        return
    if DEFAULT_DEVICE in visitor.project:
        dropped = {id(m) for m in sites}
        facts.mismatches[:] = [m for m in facts.mismatches if id(m) not in dropped]
    else:
        facts.summary["implicit"] = True


def _attributes_for_the_default_device(visitor: DeviceFlowVisitor) -> list[Mismatch]:
    """DL006 facts of classes written for the default device: a plain tensor attribute
    made by a factory the default device applies to, in a module class that picks the
    accelerator itself by a flag and never moves itself."""
    facts = visitor.facts
    found = []
    for m in facts.mismatches:
        site = m.culprit.value.site
        assign = facts.assignments.get(id(site)) if site is not None else None
        if m.cause is not Cause.PLAIN_ATTR or assign is None:
            continue
        if not default_device_factory(facts.text(assign.value)):
            continue
        owner = next(
            (
                c
                for c in visitor.classes.values()
                if (init := c.methods.get("__init__")) is not None
                and any(n is assign for n in walk(init))
            ),
            None,
        )
        if owner is not None and places_itself_by_flag(owner.node):
            found.append(m)
    return found


DEEP_STACK_BYTES = 512 * 1024 * 1024
DEEP_RECURSION_LIMIT = 200_000


def _analyze_deep(module: cst.Module, source: str, options: EngineOptions) -> FileFacts:
    outcome: dict[str, object] = {}

    def target() -> None:
        old_limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(old_limit, DEEP_RECURSION_LIMIT))
        try:
            outcome["facts"] = _run(module, source, options)
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


def _first_statement(body: cst.BaseSuite) -> Optional[cst.CSTNode]:
    """The first small statement (or compound statement) of a loop body."""
    if not body.body:
        return None
    first = body.body[0]
    if isinstance(first, cst.SimpleStatementLine) and first.body:
        return first.body[0]
    return first


# `visit_`/`leave_` methods by node class (None: none), filled on first use
_MISSING = object()
_VISITS: dict[type, object] = {}
_LEAVES: dict[type, object] = {}
