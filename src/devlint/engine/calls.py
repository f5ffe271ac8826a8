"""Evaluating calls: moves, factories, loaders, nn constructors, torch functions, tensor
methods, module calls and same-file functions."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Callable, Optional

import libcst as cst

from devlint.engine import names as N
from devlint.engine.facts import (
    Cause,
    Context,
    HardcodedDevice,
    LegacyDevice,
    LoadCall,
    Mismatch,
    Operand,
)
from devlint.engine.file_paths import file_spec
from devlint.engine.scope import (
    CLIP_MODEL,
    ENCODING,
    HEURISTIC_LOADER,
    MAX_CALL_DEPTH,
    METRIC,
    SELF_PLACING,
    TOKENIZER,
    ULTRA_MODEL,
    ULTRA_RESULT,
    WHISPER_MODEL,
    YOLOV5_MODEL,
    YOLOV5_RESULTS,
    ClassInfo,
    Scope,
)
from devlint.engine.summary import (
    bound_by_name,
    class_state,
    followed_argument,
    imported_value,
    stored_parameters,
)
from devlint.engine.syntax import (
    all_params,
    assigned_once,
    bind_args,
    default_constants,
    factory_scalar,
    has_param,
    isinstance_tested,
    move_helper,
    moves_items,
    names_in,
    parameter_names,
)
from devlint.engine.values import (
    DEV_ANY,
    DEV_CPU,
    DEV_UNKNOWN,
    DEVICE_TOLD,
    GRAFT,
    MOVED,
    NO_CONST,
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
    is_known,
    is_placed,
    is_weak,
    join_all,
    join_devices,
    may_be_placed,
    move_container,
    param_names,
    partly_cpu,
    placed_by,
    sole_param,
    sym,
    tensor,
)


class CallsMixin:
    """`Analyzer` methods that evaluate calls."""

    # ------------------------------------------------------------------ calls
    def eval_Call(self, node: cst.Call, scope: Scope) -> Value:
        func = node.func
        if type(func) is cst.Attribute and func.attr.value in ("to", "cuda", "cpu"):
            return self.eval_move(node, scope, statement=None)
        if N.last_name(func) in N.FX_TRACING_TESTS:
            # true only while torch.fx traces with proxies, which hold no values and no
            # device: the branch it guards never runs on real tensors
            self.eval_args(node, scope)
            return constant(False)
        q = self.imports.qualify(func)
        if q is not None:
            handled = self.eval_known_call(q, node, scope)
            if handled is not None:
                return handled
        if type(func) is cst.Attribute:
            key = N.dotted(func)
            known = self.lookup(key, scope) if key is not None else None
            if known is not None and (known.kind is Kind.MODULE or known.type_name == MOVED):
                return self.call_value(node, known, self.eval_args(node, scope), scope)
            return self.eval_method_call(node, func, scope)
        callee = self.eval(func, scope)
        args = self.eval_args(node, scope)
        return self.call_value(node, callee, args, scope)

    def record_outgoing(self, q: str, args: list[tuple[cst.Arg, Value]], scope: Scope) -> None:
        """What a call of an imported function passes (by position or keyword): the
        callee's module learns which of its parameters a call places (`outgoing`) and,
        per call, whether each argument is placed, on the CPU or unknown (`fed`: a
        helper that every call of the project feeds CPU data is data-side code)."""
        position = 0
        kinds: dict[str, str] = {}
        cpu_side = self.cpu_side_scope(scope)
        for arg, value in args:
            if arg.star:
                return
            if arg.keyword is not None:
                key = arg.keyword.value
            else:
                key = str(position)
                position += 1
            kind = "host" if is_host_copy(arg.value) else passed_kind(value, cpu_side)
            kinds[key] = kind
            if kind == "placed":
                self.outgoing.setdefault(q, set()).add(key)
        calls = self.fed.setdefault(q, [])
        # (a loop's body is walked until its facts settle: the same call again)
        if len(calls) < MAX_FED_CALLS and kinds not in calls:
            calls.append(kinds)

    @staticmethod
    def cpu_side_scope(scope: Scope) -> bool:
        """Data-pipeline code (a dataset's methods, a collate function) only ever holds
        CPU data: what it passes is CPU."""
        caller = scope.func.name.value if scope.func is not None else ""
        return (scope.cls is not None and scope.cls.cpu_side) or "collate" in caller

    def call_value(
        self, node: cst.Call, callee: Value, args: list[tuple[cst.Arg, Value]], scope: Scope
    ) -> Value:
        if self.asked:
            q = self.imports.qualify(node.func)
            if q is not None and q in self.asked:
                self.record_outgoing(q, args, scope)
        if callee.kind is Kind.MODULE:
            return self.module_call(node, callee, args, scope)
        if callee.type_name == MOVED:
            # an object of unknown type moved in place: a module if it is named like one;
            # pipelines and wrappers (`pipe`, `engine`) move their inputs themselves
            if N.is_model_name(N.dotted(node.func) or ""):
                return self.module_call(node, callee, args, scope)
            return UNKNOWN
        if callee.type_name == TOKENIZER:
            return self.encoding(node)
        if callee.type_name == ULTRA_MODEL:
            return self.ultralytics_results(node, callee, scope)
        if callee.type_name == YOLOV5_MODEL:
            return Value(Kind.UNKNOWN, callee.device, type_name=YOLOV5_RESULTS)
        if callee.type_name == HOST_TRANSFORM:
            # CLIP's `preprocess(image)`: a torchvision pipeline ending in `ToTensor`
            return tensor(DEV_CPU, site=node, scalar=False)
        if told_device(args):
            return Value(type_name=DEVICE_TOLD)
        return UNKNOWN

    def encoding(self, node: cst.Call) -> Value:
        """`tokenizer(..., return_tensors="pt")`: a BatchEncoding of CPU tensors, moved in
        place by `.to(device)`; without `return_tensors="pt"` it holds lists."""
        rt = self.keyword(node, "return_tensors")
        if rt is None or N.string_value(rt.value) != "pt":
            return UNKNOWN
        return Value(Kind.BATCH, DEV_CPU, type_name=ENCODING, elem=tensor(DEV_CPU, scalar=False))

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
        """Calls recognised by qualified name: torch, nn, data loaders, project code.

        Exact names first (`_BY_NAME`), then last parts (`DataLoader`, `from_pretrained`
        from any package), then families of names by prefix, in order (`_FAMILIES`), then
        this file's own functions and classes."""
        last = N.last_part(q)
        if "offload" in last or last == "dispatch_model":
            # accelerate/diffusers offload hooks move weights at run time: forget placement
            self.forget_devices(self.eval_args(node, scope), scope)
            return UNKNOWN
        handler = _HANDLERS.get(q, _MISSING)
        if handler is _MISSING:
            handler = _BY_NAME.get(q) or _BY_LAST.get(last)
            if handler is None:
                handler = next((h for matches, h in _FAMILIES if matches(q, last)), None)
            _HANDLERS[q] = handler  # the tables are fixed: the answer for `q` is too
        if handler is not None:
            return handler(self, q, last, node, scope)
        head = q.partition(".")[0]
        if q in scope.env or (head != q and head in scope.env and head not in self.imports.aliases):
            # a local variable (a parameter named `model`) shadows the module's, and its
            # attributes are the variable's (`model.parameters()` of a script that also
            # does `from model import build`)
            return None
        if q in self.functions and q == q.split(".")[0]:
            args = self.eval_args(node, scope)
            return self.call_function(self.functions[q], None, node, args, scope)
        if q in self.classes:
            return self.construct(self.classes[q], node, scope)
        fact = self.imported_fact(q)
        if fact is not None:
            return self.imported_call(q, fact, node, scope)
        if q in self.asked and type(node.func) is cst.Attribute:
            # `helpers.add_position(x)`: a function of another module of the project, of
            # which nothing is known but the arguments it is given here
            self.record_outgoing(q, self.eval_args(node, scope), scope)
            return UNKNOWN
        return None

    def imported_call(self, q: str, fact: dict, node: cst.Call, scope: Scope) -> Optional[Value]:
        """A call of a class or function another module of the project defines, by what
        its summary says (`engine.summary`): a module class builds a module where a
        same-file class would (the CPU, or the default device in force), unless its
        constructor places or moves it (then where it lands is unknown); a function
        returns the module or device its summary names."""
        kind = fact.get("t")
        args = self.eval_args(node, scope)
        self.record_outgoing(q, args, scope)
        self.forget_moved_args(fact, args, scope)
        if kind == "class":
            if not fact.get("module"):
                return UNKNOWN
            if fact.get("wraps"):
                # modules given to it become part of it: moving it moves them
                for _, value in args:
                    self.forget_held(value, scope)
            if any(fact.get(k) for k in ("to", "places", "adapts", "wraps")):
                # placed or moved by its constructor, moving its state to its input, or
                # holding what it was given (a model): where it is is the caller's business
                device: Device = DEV_UNKNOWN
            elif fact.get("stateless"):
                device = DEV_ANY
            elif fact.get("layers"):
                device = self.default_home(scope)
            else:
                device = DEV_ANY  # no parameters or buffers of its own anywhere in sight
            return Value(
                Kind.MODULE,
                device,
                oid=self.new_oid(),
                type_name=q,
                moves_inputs=bool(fact.get("moves")),
            )
        if kind == "function":
            if fact.get("follows"):
                return followed_argument(fact, args, q)
            if fact.get("moves_to"):
                data, device = fact["moves_to"]
                bound = bound_by_name(fact.get("params") or [], args)
                moved = moved_by_helper(bound.get(data), bound.get(device))
                return moved if moved is not None else UNKNOWN
            return imported_value(fact, self.new_oid(), q)
        return UNKNOWN

    def forget_moved_args(
        self, fact: dict, args: list[tuple[cst.Arg, Value]], scope: Scope
    ) -> None:
        """Modules passed to another module's function (or constructor) that moves
        that parameter in place (`prepare(model, device)`): no longer known to be on the
        CPU.  Elements of a list passed there too (`place_all([a, b], device)`)."""
        moved = set(fact.get("moves_args") or ())
        if not moved:
            return
        params = list(fact.get("params") or ())
        position = 0
        for arg, value in args:
            if arg.star:
                return  # the rest cannot be matched to parameters
            if arg.keyword is not None:
                name = arg.keyword.value
            else:
                name = params[position] if position < len(params) else ""
                position += 1
            if name in moved:
                self.forget_held(value, scope)

    def forget_held(self, value: Value, scope: Scope) -> None:
        """A module, or the modules of a list or tuple, whose device is no longer known."""
        for held in (value, *(value.elems or ()), *([value.elem] if value.elem else [])):
            if held.kind is Kind.MODULE and held.oid:
                self.move_in_place(held, None, replace(held, device=DEV_UNKNOWN), scope)

    # Handlers of `eval_known_call`: (q, last part of q, call, scope) -> value.
    def _call_device(self, q: str, last: str, node: cst.Call, scope: Scope) -> Value:
        return self.eval_device_ctor(node, scope)

    def _call_load(self, q: str, last: str, node: cst.Call, scope: Scope) -> Value:
        args = self.eval_args(node, scope)
        pos = self.positional(node)
        location = self.keyword(node, "map_location")
        if location is not None:
            self.device_of_arg(location.value, scope)  # a hard-coded "cuda:0" is DL002
        # `torch.load(path, **kwargs)`, `torch.load(*args)`: a wrapper whose callers choose
        # the map location (and usually pass one); not a dict this scope built, when the
        # scope never names `map_location` (it may add the key after building the dict)
        forwarded = any(
            a.star and not (a.star == "**" and self.built_without(v, "map_location", scope))
            for a, v in args
        )
        source = self.keyword(node, "f")
        path = pos[0].value if pos else (source.value if source is not None else None)
        key = path_key(self.text(path)) if path is not None else None
        given = (
            next((v.const for a, v in args if a.value is path), None) if path is not None else None
        )
        if type(path) is cst.Name and not scope.report:
            # a call of this file running the helper: the path it was given, when the
            # call passed a string (`param_load_assets`)
            self.load_literals.setdefault(id(node), set()).add(
                given if isinstance(given, str) and given else None
            )
        if (
            location is None
            and len(pos) < 2
            and not forwarded
            and scope.report
            and not (key is not None and SAVED + key in scope.env)
            # data-pipeline code (a dataset's methods, a collate function) reads the
            # files its own preprocessing wrote, on the CPU: CPU data by design (not a
            # module named like one: `HubertTokenizer(nn.Module)` loads its weights)
            and not (
                self.cpu_side_scope(scope) and not (scope.cls is not None and scope.cls.is_module)
            )
            # code that runs only where an accelerator is (a GPU-only test, the branch
            # of `if torch.cuda.is_available():`) never meets a CPU-only machine
            and not (scope.accelerator_only or scope.guarded_rest)
            # a test suite runs on CI's CPU machines: a file it loads that holds
            # accelerator tensors fails it on its first run, and what tests load is what
            # they wrote or committed (46 test-suite rows in four readings: none REAL)
            and not self.test_suite
            and self.once("load", id(node))
        ):
            asset = (
                file_spec(path, given, lambda n: assigned_once(self.module, n))  # type: ignore[arg-type]
                if path is not None
                else None
            )
            load = LoadCall(node, self.text(node), self.device_var_name(scope), asset)
            self.facts.loads.append(load)
            if key is not None and not isinstance(path, cst.Name):
                self.load_paths.append((load, key))
        return UNKNOWN

    def _call_save(self, q: str, last: str, node: cst.Call, scope: Scope) -> Value:
        """`torch.save(obj, path)`: on every path through this scope from here on, a load
        of the same path expression (not rebound since) reads back what this machine
        wrote; and the file holds no accelerator tensors when `obj` is known to hold
        none (`saved_payloads`, for loads of that path elsewhere in the file)."""
        args = self.eval_args(node, scope)
        pos = [(a, v) for a, v in args if a.keyword is None and not a.star]
        obj = self.keyword(node, "obj")
        target = self.keyword(node, "f")
        payload = pos[0][1] if pos else (self.eval(obj.value, scope) if obj is not None else None)
        path = pos[1][0].value if len(pos) > 1 else (target.value if target is not None else None)
        if path is None or payload is None:
            return OTHER
        key = path_key(self.text(path))
        scope.env[SAVED + key] = OTHER
        obj_node = pos[0][0].value if pos else (obj.value if obj is not None else None)
        clean = holds_no_device_tensor(payload) or is_cpu_copy(obj_node)
        self.saved_payloads.setdefault(key, []).append(clean)
        return OTHER

    def built_without(self, value: Value, key: str, scope: Scope) -> bool:
        """Is `value` a dict display of this scope whose keys are known, none of them `key`,
        in a scope whose source never mentions `key`?"""
        if value.kind is not Kind.BATCH or value.entries is None:
            return False
        if any(k == key for k, _ in value.entries):
            return False
        if scope.func is not None:
            return key not in self.facts.module.code_for_node(scope.func)
        return key not in self.facts.source

    def _call_other(self, q: str, last: str, node: cst.Call, scope: Scope) -> Value:
        """Calls whose result holds no tensor (`len`, `torch.set_default_device`...)."""
        self.eval_args(node, scope)
        return OTHER

    def _call_variable(self, q: str, last: str, node: cst.Call, scope: Scope) -> Value:
        """`Variable(t, requires_grad=...)` (the autograd wrapper of old releases, now an
        identity): the tensor it wraps, on its device."""
        args = self.eval_args(node, scope)
        if args and args[0][0].keyword is None and not args[0][0].star:
            return args[0][1]
        return UNKNOWN

    def _call_opaque(self, q: str, last: str, node: cst.Call, scope: Scope) -> Value:
        """Calls whose result is unknown (`open`...)."""
        self.eval_args(node, scope)
        return UNKNOWN

    def _call_range(self, q: str, last: str, node: cst.Call, scope: Scope) -> Value:
        self.eval_args(node, scope)
        return Value(Kind.BATCH, DEV_ANY, elem=OTHER)

    def _call_factory(self, q: str, last: str, node: cst.Call, scope: Scope) -> Value:
        return self.eval_factory(last, node, scope)

    def _call_inheriting_factory(self, q: str, last: str, node: cst.Call, scope: Scope) -> Value:
        """`torch.zeros_like(x)`: on `x`'s device unless `device=` says otherwise."""
        args = self.eval_args(node, scope)
        dev = self.device_kwarg(node, scope)
        first = args[0][1] if args else UNKNOWN
        return tensor(dev if dev is not None else first.device, scalar=first.scalar)

    def _call_loader(self, q: str, last: str, node: cst.Call, scope: Scope) -> Value:
        return self.eval_loader(node, scope)

    def _call_tensor_dataset(self, q: str, last: str, node: cst.Call, scope: Scope) -> Value:
        args = self.eval_args(node, scope)
        elems = tuple(
            replace(v, origin=Origin.NONE) if v.kind is Kind.TENSOR else UNKNOWN for _, v in args
        )
        return Value(
            Kind.LOADER,
            container_device(list(elems)),
            elem=Value(Kind.BATCH, container_device(list(elems)), elems=elems),
        )

    def _call_enumerate(self, q: str, last: str, node: cst.Call, scope: Scope) -> Value:
        args = self.eval_args(node, scope)
        inner = self.element_of(args[0][1], args[0][0].value, scope) if args else UNKNOWN
        src = args[0][1] if args else UNKNOWN
        return Value(
            src.kind if src.kind is Kind.LOADER else Kind.BATCH,
            DEV_ANY,
            elem=Value(Kind.BATCH, inner.device, elems=(OTHER, inner)),
            type_name=src.type_name,
        )

    def _call_zip(self, q: str, last: str, node: cst.Call, scope: Scope) -> Value:
        args = self.eval_args(node, scope)
        inners = tuple(self.element_of(v, a.value, scope) for a, v in args)
        is_loader = any(v.kind is Kind.LOADER for _, v in args)
        heuristic = any(v.type_name == HEURISTIC_LOADER for _, v in args)
        return Value(
            Kind.LOADER if is_loader else Kind.BATCH,
            DEV_ANY,
            elem=Value(Kind.BATCH, container_device(list(inners)), elems=inners),
            type_name=HEURISTIC_LOADER if heuristic else "",
        )

    def _call_pass_through(self, q: str, last: str, node: cst.Call, scope: Scope) -> Value:
        """`tqdm(loader)`, `iter(loader)`: the argument itself, as far as devices go."""
        args = self.eval_args(node, scope)
        return args[0][1] if args else UNKNOWN

    def _call_amp_initialize(self, q: str, last: str, node: cst.Call, scope: Scope) -> Value:
        """apex's `amp.initialize(model, optimizer, ...)`: casts the model in place and hands
        back what it was given, `(model, optimizer)` (or the model alone without an
        optimizer); the model stays where it was."""
        args = self.eval_args(node, scope)
        given = [v for a, v in args if a.keyword is None and not a.star][:2]
        for a, v in args:
            if a.keyword is not None and a.keyword.value in ("models", "optimizers"):
                given.insert(0 if a.keyword.value == "models" else len(given), v)
        if len(given) == 1:
            return given[0]
        if len(given) == 2:
            return Value(Kind.BATCH, container_device(given), elems=tuple(given))
        return UNKNOWN

    def _call_metric(self, q: str, last: str, node: cst.Call, scope: Scope) -> Value:
        """torchmetrics: a metric class builds a module whose state follows `.to()` (it
        computes where its inputs are until then); a functional metric combines its tensor
        arguments (`retrieval_reciprocal_rank(preds, target)`), which must share a device."""
        args = self.eval_args(node, scope)
        if last[:1].isupper():
            return Value(Kind.MODULE, DEV_ANY, oid=self.new_oid(), type_name=METRIC)
        return self.combine_metric_inputs(node, args, scope)

    def combine_metric_inputs(
        self, node: cst.Call, args: list[tuple[cst.Arg, Value]], scope: Scope
    ) -> Value:
        """A metric's tensor inputs meet inside it: a CPU tensor made here next to a placed
        one is a mismatch.  The result is on the placed input's device."""
        operands = [(a.value, v) for a, v in args if not a.star]
        return self.combine(node, operands, scope, self.text(node.func))

    def _call_next(self, q: str, last: str, node: cst.Call, scope: Scope) -> Value:
        args = self.eval_args(node, scope)
        return self.element_of(args[0][1], args[0][0].value, scope) if args else UNKNOWN

    def _call_sequence(self, q: str, last: str, node: cst.Call, scope: Scope) -> Value:
        """`list(...)`, `sorted(...)`: a container of the argument's elements."""
        args = self.eval_args(node, scope)
        if not args:
            return Value(Kind.BATCH, DEV_ANY)
        src = args[0][1]
        el = self.element_of(src, args[0][0].value, scope)
        return Value(Kind.BATCH, src.device if src.kind is Kind.BATCH else el.device, elem=el)

    def _call_data_parallel(self, q: str, last: str, node: cst.Call, scope: Scope) -> Value:
        """DataParallel/DDP/FSDP: the wrapped module, and whether the wrapper moves inputs."""
        args = self.eval_args(node, scope)
        inner = args[0][1] if args else UNKNOWN
        moves = (
            last in ("DataParallel", "FullyShardedDataParallel")
            or self.keyword(node, "device_ids") is not None
        )
        placed = inner.kind is Kind.MODULE or inner.type_name == MOVED
        return Value(
            Kind.MODULE, inner.device if placed else DEV_UNKNOWN, oid=inner.oid, moves_inputs=moves
        )

    def _call_nn_constructor(self, q: str, last: str, node: cst.Call, scope: Scope) -> Value:
        built = self.eval_nn_constructor(q, last, node, scope)
        if built.kind is Kind.MODULE and built.oid and scope.func is not None:
            self.modules_built_in[built.oid] = id(scope.func)
        return built

    def _call_optimizer(self, q: str, last: str, node: cst.Call, scope: Scope) -> Value:
        self.eval_args(node, scope)
        return Value(Kind.OPTIMIZER, DEV_ANY)

    def _call_from_pretrained(self, q: str, last: str, node: cst.Call, scope: Scope) -> Value:
        args = self.eval_args(node, scope)
        text = self.text(node.func)
        pos = [v for a, v in args if a.keyword is None and not a.star]
        if len(pos) >= 2:
            # `PeftModel.from_pretrained(base_model, path)`: an adapter around a model
            # that already lives somewhere; it stays there
            inner = pos[0]
            if inner.kind is Kind.MODULE:
                return inner
            return Value(Kind.MODULE, DEV_UNKNOWN, oid=self.new_oid())
        device = self.keyword(node, "device")
        if device is not None:
            # `DISK.from_pretrained(checkpoint, device=device)` (kornia and others)
            return Value(Kind.MODULE, self.device_of_arg(device.value, scope), oid=self.new_oid())
        if "Pipeline" in text:
            # pipelines move their inputs to their components' devices themselves
            return Value(Kind.MODULE, DEV_UNKNOWN, oid=self.new_oid(), moves_inputs=True)
        if any(t in text for t in ("Tokenizer", "Processor", "FeatureExtractor")):
            return Value(Kind.OTHER, DEV_ANY, type_name=TOKENIZER)
        if "Config" in text:
            return OTHER
        if self.keyword(node, "device_map") is not None:
            return Value(Kind.MODULE, DEV_UNKNOWN)
        return Value(Kind.MODULE, DEV_CPU, oid=self.new_oid())

    def _call_self_placing_model(self, q: str, last: str, node: cst.Call, scope: Scope) -> Value:
        """`SentenceTransformer("all-MiniLM-L6-v2")`, `clip.load("ViT-B/32")`,
        `whisper.load_model("base")`: these libraries put the model on CUDA (or MPS) by
        themselves wherever one is available, unless `device=` says otherwise: on a GPU
        machine it is there without any `.to()` in sight.  `clip.load` returns the
        model with its preprocessing transform."""
        self.eval_args(node, scope)
        library, type_name = _SELF_PLACING_LOADERS.get(q) or ("sentence-transformers", SELF_PLACING)
        told = self.device_kwarg(node, scope)
        home = told if told is not None else placed_by(library)
        model = Value(Kind.MODULE, home, oid=self.new_oid(), type_name=type_name)
        if type_name == CLIP_MODEL:
            preprocess = Value(Kind.OTHER, DEV_ANY, type_name=HOST_TRANSFORM)
            return Value(Kind.BATCH, home, elems=(model, preprocess))
        return model

    def _call_ultralytics_model(self, q: str, last: str, node: cst.Call, scope: Scope) -> Value:
        """`YOLO("yolov8n.pt")`: Ultralytics runs it on CUDA when there is one (unless
        `predict(..., device=...)` says otherwise) and moves its inputs itself, so it is no
        module whose inputs devlint checks: what matters is where its results are."""
        self.eval_args(node, scope)
        return Value(Kind.OTHER, placed_by("Ultralytics"), type_name=ULTRA_MODEL)

    def _call_hub_load(self, q: str, last: str, node: cst.Call, scope: Scope) -> Value:
        """`torch.hub.load("ultralytics/yolov5", "yolov5s")`: YOLOv5's hub entry picks
        CUDA when there is one (unless `device=`); other hub models are not known (one
        told a device may be there, as for any call: `call_value`)."""
        args = self.eval_args(node, scope)
        repo = N.string_value(node.args[0].value) if node.args else None
        source = self.keyword(node, "source")
        if (
            repo is None
            or repo.split(":", 1)[0] != "ultralytics/yolov5"
            or (source is not None and N.string_value(source.value) != "github")
        ):
            return Value(type_name=DEVICE_TOLD) if told_device(args) else UNKNOWN
        told = self.device_kwarg(node, scope)
        home = told if told is not None else placed_by("YOLOv5")
        return Value(Kind.OTHER, home, type_name=YOLOV5_MODEL)

    def ultralytics_results(self, node: cst.Call, model: Value, scope: Scope) -> Value:
        """What `model(source)`, `model.predict(...)` or `model.track(...)` returns: a
        list of results whose tensors are on the model's device, or on `device=`."""
        told = self.device_kwarg(node, scope)
        home = told if told is not None else model.device
        result = Value(Kind.UNKNOWN, home, type_name=ULTRA_RESULT)
        return Value(Kind.BATCH, home, elem=result)

    def _call_host_tensor(self, q: str, last: str, node: cst.Call, scope: Scope) -> Value:
        """`clip.tokenize(texts)`: a new tensor on the CPU (made as a factory makes one)."""
        self.eval_args(node, scope)
        return tensor(DEV_CPU, site=node, scalar=False)

    def _call_follows_audio(self, q: str, last: str, node: cst.Call, scope: Scope) -> Value:
        """`whisper.log_mel_spectrogram(audio)`, `whisper.pad_or_trim(audio)`: a tensor on
        the device of the audio tensor given; a path or a NumPy array gives one on the
        CPU (`whisper.load_audio` returns a NumPy array)."""
        args = self.eval_args(node, scope)
        if not args:
            return UNKNOWN
        arg, first = args[0]
        if first.kind is Kind.TENSOR:
            return replace(first, origin=Origin.NONE, scalar=False)
        loaded = type(arg.value) is cst.Call and N.last_name(arg.value.func) == "load_audio"
        if first.kind is Kind.OTHER or loaded:
            return tensor(DEV_CPU, site=node, scalar=False)
        return UNKNOWN

    def _call_whisper_with_model(self, q: str, last: str, node: cst.Call, scope: Scope) -> Value:
        """`whisper.decode(model, mel, options)`, `whisper.detect_language(model, mel)`:
        the model's encoder reads `mel` where the model is."""
        args = self.eval_args(node, scope)
        pos = [(a, v) for a, v in args if a.keyword is None and not a.star]
        if len(pos) >= 2 and pos[0][1].kind is Kind.MODULE:
            self.module_call(node, pos[0][1], [pos[1]], scope)
        return OTHER

    def _call_embedding_similarity(self, q: str, last: str, node: cst.Call, scope: Scope) -> Value:
        """`sentence_transformers.util.cos_sim(a, b)` and its kin: a score matrix on the
        device of the embeddings given (they convert lists and arrays to CPU tensors)."""
        args = self.eval_args(node, scope)
        first = args[0][1] if args else UNKNOWN
        return tensor(first.device if first.kind is Kind.TENSOR else DEV_UNKNOWN, scalar=False)

    def _call_model_zoo(self, q: str, last: str, node: cst.Call, scope: Scope) -> Value:
        """`torchvision.models.resnet18()`, `timm.create_model(...)`: a new CPU module."""
        self.eval_args(node, scope)
        return Value(Kind.MODULE, DEV_CPU, oid=self.new_oid())

    def _call_pack_padded(self, q: str, last: str, node: cst.Call, scope: Scope) -> Value:
        """`pack_padded_sequence(data, lengths)`: PyTorch reads the lengths on the host
        and rejects lengths on an accelerator (since 1.7), whatever device the data is on.
        Lengths certainly on one are a DL009; lengths that are a parameter's count where a
        call of this file passes that parameter placed; under a library contract, lengths
        computed from the same parameter as the data (`features["sentence_lengths"]` with
        `features["token_embeddings"]`: moved together, so on the accelerator with it)."""
        args = self.eval_args(node, scope)
        call_args = [a for a, _ in args]
        # the lengths where `N.HOST_ARGUMENTS` says they are; the data first
        given = next(((a, v) for a, v in args if N.is_host_argument(last, call_args, a)), None)
        data = args[0] if args and args[0][0].keyword is None and not args[0][0].star else None
        if data is None:
            data = next(((a, v) for a, v in args if a.keyword and a.keyword.value == "input"), None)
        if given is None or data is None or not scope.report:
            return UNKNOWN
        (arg, lengths), (data_arg, data_value) = given, data
        if lengths.kind is not Kind.TENSOR or not is_placed(lengths.device):
            return UNKNOWN
        weak = is_weak(lengths.device)
        contract = self.open_contract(scope, lengths.device) if weak else ""
        if weak and contract and data_value.device != lengths.device:
            return UNKNOWN  # a lengths parameter of its own: callers pass it on the CPU
        if not self.once("host-lengths", id(node)):
            return UNKNOWN
        param = sole_param(lengths.device) if scope.func is not None else None
        fact = Mismatch(
            node=node,
            context=Context.HOST_ARGUMENT,
            op_text=self.text(node.func),
            culprit=Operand(self.text(arg.value), lengths, arg.value),
            partner=Operand(self.text(data_arg.value), data_value, data_arg.value),
            cause=Cause.OTHER,
            contract=contract,
        )
        evidence = (id(scope.func), param) if param is not None and weak and not contract else None
        self.add_fact(self.facts.mismatches, fact, weak and not contract, evidence)
        return UNKNOWN

    def _call_numpy(self, q: str, last: str, node: cst.Call, scope: Scope) -> Value:
        """A NumPy function: given a tensor (or a list of tensors) as its data, it asks
        each for its array, which is `.numpy()` (`Tensor.__array__`): on an accelerator
        tensor that raises as `.numpy()` does (`host_read`)."""
        args = self.eval_args(node, scope)
        data = next(((a, v) for a, v in args if a.keyword is None and not a.star), None)
        if data is not None and not _NUMPY_SCALAR_TYPE.match(last):
            self.host_read(node, data[0], data[1], scope)
        return Value(Kind.NDARRAY, DEV_ANY)

    def _call_plot(self, q: str, last: str, node: cst.Call, scope: Scope) -> Value:
        """`plt.plot(t)`, `plt.imshow(t)`: Matplotlib reads its data with NumPy."""
        self.plot_reads(node, self.eval_args(node, scope), scope)
        return OTHER

    def plot_reads(self, node: cst.Call, args: list[tuple[cst.Arg, Value]], scope: Scope) -> None:
        """The data arguments of a plotting call (`ax.plot(x, y)`), read as NumPy arrays."""
        for arg, value in args:
            if arg.keyword is None and not arg.star and self.host_read(node, arg, value, scope):
                return  # one finding per call

    def host_read(self, node: cst.Call, arg: cst.Arg, value: Value, scope: Scope) -> bool:
        """`arg` read into NumPy by a library call (a NumPy function, a plot).  Unlike
        `x.numpy()`, the call does not say that its argument is a tensor: NumPy and
        Matplotlib take arrays, images and lists too.  So only a value this file
        certainly made a tensor on an accelerator counts: not a parameter (library code
        hands NumPy arrays to NumPy), not what an object called like a model returns (a
        pipeline's `.images` are arrays), and not a scalar type (`np.float32(t)`); except
        in a function that copies other tensors to the host itself (`y.cpu().numpy()`
        next to `ax.plot(y_pred[i])`): it knows its data may be on an accelerator, and
        what it does not copy is read there.  True when that was recorded."""
        direct = value.kind is Kind.TENSOR
        if value.kind is Kind.BATCH:
            parts = [e for e in (value.elems or ()) if e.kind is Kind.TENSOR]
            if not parts and value.elem is not None and value.elem.kind is Kind.TENSOR:
                parts = [value.elem]
            placed = [e for e in parts if is_placed(e.device)]
            value = placed[0] if placed else UNKNOWN
        if value.kind is not Kind.TENSOR:
            return False
        certain = (
            value.origin is not Origin.MODEL_OUTPUT
            and not is_weak(value.device)
            and not self.open_contract(scope, value.device)
        )
        if not certain and not (
            is_placed(value.device)
            and self.copies_to_host_here(scope)
            and scope.func is not None
            and not _named(arg.value, value.device) & isinstance_tested(scope.func)
        ):
            return False
        return self.read_on_host(
            node,
            arg.value,
            value,
            scope,
            self.text(node.func),
            arg.value if direct else None,
        )

    def _call_torch_function(self, q: str, last: str, node: cst.Call, scope: Scope) -> Value:
        return self.eval_torch_function(q, last, node, scope)

    def _call_torch_runtime(self, q: str, last: str, node: cst.Call, scope: Scope) -> Value:
        """`torch.cuda.*`, `torch.backends.*`, `torch.compile`...: no tensor, except that
        compiled and scripted modules live where the module does."""
        args = self.eval_args(node, scope)
        if q in ("torch.cuda.is_available", "torch.cuda.device_count"):
            return OTHER
        if q == f"torch.cuda.{last}" and last in N.LEGACY_CONSTRUCTORS:
            # `torch.cuda.LongTensor(indices)`: made on the current CUDA device, whatever
            # the machine has
            self.add_hardcoded(node, self.text(node), "cuda_constructor", scope, node)
            self.requires_accelerator_here(node, scope)
            return tensor(frozenset({"cuda"}), scalar=None)
        if q in ("torch.compile", "torch.jit.script", "torch.jit.trace") and args:
            inner = args[0][1]
            return inner if inner.kind is Kind.MODULE else UNKNOWN
        return UNKNOWN

    def _call_default_device(self, q: str, last: str, node: cst.Call, scope: Scope) -> Value:
        self.eval_args(node, scope)
        return Value(Kind.DEVICE, sym("auto"))

    def _call_torch_op(self, q: str, last: str, node: cst.Call, scope: Scope) -> Value:
        """Other `torch.*` ops follow their first tensor argument (or `device=`)."""
        args = self.eval_args(node, scope)
        if last in N.NON_TENSOR_FUNCTIONS:
            # `d = torch.numel(x[0])`: a Python int, on no device (it does not stand for
            # `x` when `d` meets a CPU tensor later)
            return NUMBER if last in ("numel", "get_device") else OTHER
        inputs = [(a.value, v) for a, v in args if a.keyword is None]
        self.check_out_argument(node, args, inputs, scope, self.text(node.func))
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

    @staticmethod
    def container_device(args: list[tuple[cst.Arg, Value]]) -> Device:
        """Where `nn.Sequential(...)`/`nn.ModuleList([...])` lives: the CPU if a member
        holds CPU state; anywhere if no member holds state (activations, stateless
        modules); unknown if a member is unknown (`nn.Sequential(*stages)` of a
        parameter) or elsewhere."""
        members: list[Value] = []
        for _, v in args:
            if v.kind is Kind.BATCH:
                if v.elems is not None:
                    members.extend(v.elems)
                elif v.entries is not None:
                    members.extend(e for _, e in v.entries)
                else:
                    members.append(v.elem if v.elem is not None else UNKNOWN)
            elif v.kind in (Kind.MODULE, Kind.UNKNOWN):
                members.append(v)
        if not members:
            return DEV_CPU  # filled later (`.append(...)`): the usual CPU construction
        devices = [m.device if m.kind is Kind.MODULE else DEV_UNKNOWN for m in members]
        if any(d == DEV_UNKNOWN or not is_known(d) for d in devices):
            return DEV_UNKNOWN
        held = [d for d in devices if d != DEV_ANY]
        if not held:
            return DEV_ANY
        return DEV_CPU if all(is_cpu(d) for d in held) else DEV_UNKNOWN

    def eval_device_ctor(self, node: cst.Call, scope: Scope) -> Value:
        if not node.args:
            return Value(Kind.DEVICE, DEV_UNKNOWN)
        arg = node.args[0].value
        for a in node.args[1:]:
            self.eval(a.value, scope)
        lit = N.accelerator_literal(arg)
        if lit is not None:
            # `torch.device("cuda")` fails nowhere by itself: it is reported where it is
            # used to place something (see `device_of_arg`)
            return self.device_literal(arg, lit, scope)
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

    def device_literal(self, node: cst.BaseExpression, lit: str, scope: Scope) -> Value:
        """A literal accelerator device; unguarded, it remembers where it was written."""
        site = None if scope.guarded else node
        return Value(Kind.DEVICE, frozenset({lit}), site=site)

    def device_of_arg(self, arg: cst.BaseExpression, scope: Scope) -> Device:
        """The device an argument names (a device value, a string, a tensor for
        `.to(other)`) where it places something: a hard-coded accelerator is reported."""
        lit = N.accelerator_literal(arg)
        if lit is not None:
            self.add_hardcoded(arg, repr(lit), "literal", scope)
            self.requires_accelerator_here(arg, scope)
            return frozenset({lit})
        s = N.string_value(arg)
        if s is not None:
            return DEV_CPU if s.startswith("cpu") else DEV_UNKNOWN
        v = self.eval(arg, scope)
        if v.kind is Kind.DEVICE and v.site is not None:
            written = N.string_value(v.site) if isinstance(v.site, cst.SimpleString) else None
            self.add_hardcoded(v.site, repr(written or next(iter(v.device))), "literal", scope)
            self.requires_accelerator_here(arg, scope)
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
        return self.device_of_arg(kw.value, scope)

    def note_legacy_device(self, node: cst.Call, dev: Device, scope: Scope) -> None:
        """`torch.FloatTensor(data, device=device)`: fails wherever `device` is an
        accelerator (a device this file places data on, not only a parameter's)."""
        if not scope.report or not is_placed(dev) or is_weak(dev):
            return
        kw = self.keyword(node, "device")
        if kw is None or not self.once("legacy-device", id(node)):
            return
        fact = LegacyDevice(node, self.text(kw.value))
        param = self.chosen_by_parameter(dev, scope)
        if param is not None and not self.open_world:
            # a script's or test's helper (`def make_mesh(device="cpu")`): its callers
            # are all here, and only one that passes an accelerator makes it fail
            self.add_fact(self.facts.legacy_devices, fact, True, (id(scope.func), param))
        else:
            self.facts.legacy_devices.append(fact)

    @staticmethod
    def chosen_by_parameter(dev: Device, scope: Scope) -> Optional[str]:
        """The parameter of the running function a symbolic device is read from
        (`device`, `x.device`, `args.device`), or None."""
        if scope.func is None or len(dev) != 1:
            return None
        (atom,) = dev
        if not atom.startswith("sym:"):
            return None
        head = atom[4:].split(".", 1)[0]
        return head if has_param(scope.func, head) else None

    def add_hardcoded(
        self,
        node: cst.CSTNode,
        literal: str,
        form: str,
        scope: Scope,
        call: Optional[cst.Call] = None,
    ) -> None:
        """Record a hard-coded accelerator (`call`: the `.cuda()` call, for its fix).  Not
        in a method named for the accelerator (`def cuda(self): return self.to("cuda")`,
        the API torch's own classes have): only a caller who wants it calls that.  A
        script's `to_gpu(*tensors)` function is how that script hard-codes it: reported,
        unless every use of it is in a branch of a device test (`if args.cuda: batch =
        to_gpu(batch)`), as the same `.cuda()` written there would be."""
        if scope.guarded or not scope.report or self.called_under_device_tests(scope):
            return
        if (
            scope.cls is not None
            and scope.func is not None
            and scope.func.name.value in ACCELERATOR_METHODS
        ):
            return
        if not self.once("hard", id(node)):
            return
        self.facts.hardcoded.append(
            HardcodedDevice(node, literal, form, scope.receives_tensors, call)
        )

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
        if last in _SPARSE_CONSTRUCTORS and dev is None:
            # `torch.sparse_coo_tensor(indices, values, size)`: made where its values are,
            # and its index tensors must be there too
            parts = [(a.value, v) for a, v in args if a.keyword is None or a.keyword.value in (
                "indices", "values", "crow_indices", "col_indices", "ccol_indices",
                "row_indices")]  # fmt: skip
            tensors = [(n, v) for n, v in parts if v.kind is Kind.TENSOR]
            if len(tensors) >= 2:
                values = tensors[-1][1]
                indices = [(n, replace(v, scalar=False)) for n, v in tensors[:-1]]
                self.check_operands(
                    node, [tensors[-1], *indices], scope, self.text(node.func), Context.OPERATION
                )
                return replace(values, scalar=False, origin=Origin.NONE, site=None)
            if tensors:
                # values known no better than the indices they must share a device with
                return replace(tensors[0][1], scalar=False, origin=Origin.NONE, site=None)
            if parts and type(parts[0][0]) not in (cst.List, cst.Tuple):
                return UNKNOWN  # data of unknown kind: where it is says where the result is
        if last == "complex":
            # `torch.complex(real, imag)` is elementwise (it takes no `device=`): it
            # follows its tensors, and of two 0-dim ones is 0-dim (`torch.complex(
            # torch.tensor(0.0), torch.tensor(1.0))`, a scalar CUDA operations accept)
            tensors = [v for _, v in args if v.kind is Kind.TENSOR]
            if tensors:
                scalars = {t.scalar for t in tensors}
                joined = False if False in scalars else (None if None in scalars else True)
                return replace(tensors[0], scalar=joined)
        scalar = factory_scalar(last, pos)
        if scalar is None and first.kind in (Kind.BATCH, Kind.NDARRAY):
            scalar = False  # `torch.tensor(weights)` with a list or an array: not 0-dim
        elif (
            scalar is None
            and first.type_name == NUMBER.type_name
            and last in ("tensor", "as_tensor")
        ):
            scalar = True  # `torch.as_tensor(self.max_new_tokens)`: a 0-dim tensor
        # legacy constructors, `from_numpy` and `frombuffer` ignore the default device
        # (`with torch.device(...)`, `torch.set_default_device`): always the CPU
        follows_default = last not in N.LEGACY_CONSTRUCTORS and last not in (
            "from_numpy",
            "frombuffer",
        )
        if last in N.LEGACY_CONSTRUCTORS:
            if dev is not None:
                self.note_legacy_device(node, dev, scope)
            dev = None
        if dev is None and follows_default:
            if scope.default_device is not None:
                dev = scope.default_device
            elif self.default_device_changed:
                dev = DEV_UNKNOWN
        out = self.keyword(node, "out")
        if dev is None and out is not None:
            dev = DEV_UNKNOWN  # `out=` decides where the result lives
        if dev is None and any(a.star == "**" for a in node.args):
            dev = DEV_UNKNOWN  # `**factory_kwargs` may carry device=
        if dev is not None:
            if is_placed(dev) and not is_weak(dev):
                self.placed_seen = True
            root = self.device_source(node, scope) if is_cpu(dev) else None
            if root is not None:
                # `torch.arange(n, device=inv_freq.device)` with `inv_freq` a CPU factory's
                # tensor: on the CPU because of that factory, where the fix goes
                return tensor(dev, origin=Origin.FACTORY, site=root.site, scalar=scalar)
            return tensor(dev, scalar=scalar)
        self.created_in[id(node)] = id(scope.func)
        return tensor(DEV_CPU, origin=Origin.FACTORY, site=node, scalar=scalar)

    def device_source(self, node: cst.Call, scope: Scope) -> Optional[Value]:
        """The CPU factory tensor whose device a factory's `device=x.device` copies (`x`
        a plain name bound to that factory's tensor), None for any other `device=`."""
        kw = self.keyword(node, "device")
        if kw is None or type(kw.value) is not cst.Attribute or kw.value.attr.value != "device":
            return None
        if type(kw.value.value) is not cst.Name:
            return None
        source = scope.env.get(kw.value.value.value)
        if source is None or source.kind is not Kind.TENSOR or source.origin is not Origin.FACTORY:
            return None
        return source if source.site is not None and is_cpu(source.device) else None

    def eval_loader(self, node: cst.Call, scope: Scope) -> Value:
        args = self.eval_args(node, scope)
        if self.keyword(node, "collate_fn") is not None or self.keyword(node, "device"):
            # a collate function may move batches; a loader told a device (DGL's
            # `DataLoader(graph, ids, sampler, device=device)`) yields them there
            return Value(Kind.LOADER, DEV_UNKNOWN, elem=UNKNOWN)
        ds = self.keyword(node, "dataset")
        dataset = (
            self.eval(ds.value, scope)
            if ds is not None
            else (args[0][1] if args and args[0][0].keyword is None else UNKNOWN)
        )
        if dataset.type_name == DEVICE_TOLD:
            # a dataset built by a call told to use the accelerator may hold device tensors
            return Value(Kind.LOADER, DEV_UNKNOWN, elem=UNKNOWN)
        info = self.classes.get(dataset.type_name)
        getitem = info.methods.get("__getitem__") if info is not None else None
        if getitem is not None and moves_items(getitem):
            # a dataset of this file whose `__getitem__` moves or makes its items on a
            # device (`whisper.pad_or_trim(audio).to(self.device)`): batches may be there
            return Value(Kind.LOADER, DEV_UNKNOWN, elem=UNKNOWN)
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
                if inner.kind is Kind.TENSOR:
                    scope.placements.append(inner.device)
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
            host = N.HOST_ARGUMENT_MODULES.get(last)
            return Value(
                Kind.MODULE, DEV_ANY, oid=self.new_oid(), type_name=f"nn.{last}" if host else ""
            )
        if last in ("ModuleList", "Sequential", "ModuleDict", "ParameterList", "ParameterDict"):
            return Value(
                Kind.MODULE, self.container_device(args), oid=self.new_oid(), type_name=f"nn.{last}"
            )
        if self.keyword(node, "device") is not None:
            d = self.device_kwarg(node, scope)
            return Value(Kind.MODULE, d or DEV_UNKNOWN, oid=self.new_oid())
        for a, v in args:
            if a.star == "**":
                # `nn.Linear(d, 2, **factory_kwargs)`: the dict's `device` entry, when
                # the dict is known; any other dict may carry `device=` too
                return Value(Kind.MODULE, kwargs_device(v), oid=self.new_oid())
        return Value(Kind.MODULE, self.default_home(scope), oid=self.new_oid())

    def eval_torch_function(self, q: str, last: str, node: cst.Call, scope: Scope) -> Value:
        args = self.eval_args(node, scope)
        operands: list[tuple[cst.CSTNode, Value]] = []
        weights: list[tuple[cst.CSTNode, Value]] = []
        call_args = [a for a, _ in args]
        for a, v in args:
            if N.is_host_argument(last, call_args, a):
                continue  # `F.ctc_loss(log_probs, targets, ...)`: CPU targets are accepted
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
            data = args[0][1] if args and args[0][0].keyword is None else None
            if last in N.INDEX_METHODS and data is not None and data.kind is not Kind.TENSOR:
                # `torch.index_select(saved, 0, idx)`: the result is `saved`'s data, on its
                # device; a CPU index says nothing about where it is (captum's reference
                # conductance was blamed on its `torch.tensor(range(...))` index)
                return UNKNOWN
        else:
            tensors = [v for _, v in operands if v.kind is Kind.TENSOR]
            result = replace(tensors[0], scalar=None) if tensors else UNKNOWN
        self.check_out_argument(node, args, operands, scope, fname)
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

    def check_out_argument(
        self,
        node: cst.Call,
        args: list[tuple[cst.Arg, Value]],
        operands: list[tuple[cst.CSTNode, Value]],
        scope: Scope,
        fname: str,
    ) -> None:
        """`torch.add(a, b, out=buf)`: the result is written into `buf`, which must be on
        the inputs' device whatever its shape (`Expected out tensor to have device cuda:0,
        but got cpu instead`)."""
        out = next(
            (
                (a.value, v)
                for a, v in args
                if a.keyword is not None and a.keyword.value == "out" and v.kind is Kind.TENSOR
            ),
            None,
        )
        if out is None:
            return
        placed = [(n, v) for n, v in operands if v.kind is Kind.TENSOR and is_placed(v.device)]
        if placed:
            written = (out[0], replace(out[1], scalar=False))
            self.check_operands(node, [placed[0], written], scope, fname, Context.OPERATION)

    # ------------------------------------------------------------------ module calls
    def module_call(
        self, node: cst.Call, module: Value, args: list[tuple[cst.Arg, Value]], scope: Scope
    ) -> Value:
        operands: list[tuple[cst.CSTNode, Value]] = []
        info = self.classes.get(module.type_name)
        if info is not None and "forward" in info.methods:
            # what this call passes `forward` counts as a call of it (a factory in
            # `forward` meeting an input is reported when some call passes a placed one)
            bound = bind_args(info.methods["forward"], True, args)
            if bound is not None:
                self.record_passed(info.methods["forward"], bound, scope, node, True)
        skipped = self.cpu_input_args(module, args)
        host = (
            N.HOST_ARGUMENT_MODULES.get(module.type_name[3:])
            if module.type_name[:3] == "nn."
            else None
        )
        if host is not None:
            # `self.ctc(log_probs, targets, input_lengths, target_lengths)`: CPU targets
            call_args = [a for a, _ in args]
            skipped.update(id(a) for a in call_args if N.is_host_argument(host, call_args, a))
        for a, v in args:
            if id(a) in skipped:
                continue  # `model(ids, lengths)` with CPU lengths for a packed sequence
            if a.star == "**":
                if v.kind is Kind.BATCH:
                    if v.entries is not None:
                        operands.extend(
                            (a.value, ev) for _, ev in v.entries if ev.kind is Kind.TENSOR
                        )
                    elif is_cpu(v.device) and (
                        v.origin is Origin.LOADER or v.type_name == ENCODING
                    ):
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
        if module.type_name == METRIC and module.device == DEV_ANY:
            # a metric not moved: its inputs meet inside it (its state is created
            # where they are)
            return self.combine_metric_inputs(node, args, scope)
        if module.via.startswith(GRAFT) and module.site is not None:
            self.report_graft(node, module, operands, module_text)
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
                if placed and is_weak(placed[0][1].device):
                    self.check_built_here(node, module, placed[0], scope, module_text)
                elif placed:
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
                    elif module.origin is not Origin.PARAM and not self.hooks_possible:
                        # (hooks of offloading and dispatch move modules at call time)
                        self.record(
                            node,
                            Context.MODULE_CALL,
                            module_text,
                            (node.func, module),
                            placed[0],
                            scope,
                            module_text,
                        )
            elif mdev == DEV_ANY and not (module.origin is Origin.PARAM and len(args) != 2):
                # a parameter-free module (a loss): its inputs must agree with each other
                # (a loss handed in is known only by its name: a prediction and a target,
                # not CTC's four arguments, whose lengths stay on the CPU)
                self.check_operands(node, operands, scope, module_text, Context.MODULE_CALL)
        return self.module_output(module, args)

    def check_built_here(
        self,
        node: cst.Call,
        module: Value,
        partner: tuple[cst.CSTNode, Value],
        scope: Scope,
        module_text: str,
    ) -> None:
        """A layer or loss built on the CPU by the function itself (`layer =
        nn.Linear(n, 4)`, `nn.BCEWithLogitsLoss(pos_weight=torch.ones(3))`) and applied to
        its tensor parameter: in a public function of library code, callers may pass that
        tensor on an accelerator, and nothing can move a module the function keeps to
        itself."""
        if scope.func is None or self.modules_built_in.get(module.oid) != id(scope.func):
            return
        contract = self.open_contract(scope, partner[1].device)
        if not contract or not self.once("built-here", module.oid):
            return
        if module.type_name == "loss":
            context = Context.LOSS_WEIGHT
            culprit = Operand(module_text, tensor(DEV_CPU, origin=module.origin), node.func)
        else:
            context = Context.MODULE_CALL
            culprit = Operand(module_text, module, node.func)
        self.add_fact(
            self.facts.mismatches,
            Mismatch(
                node=node,
                context=context,
                op_text=module_text,
                culprit=culprit,
                partner=Operand(self.text(partner[0]), partner[1], partner[0]),
                cause=Cause.OTHER,
                certain=True,
                module_text=module_text,
                contract=contract,
            ),
            False,
        )

    def report_graft(
        self,
        node: cst.Call,
        module: Value,
        operands: list[tuple[cst.CSTNode, Value]],
        module_text: str,
    ) -> None:
        """A moved module with a new CPU layer (`engine.flow.note_graft`), called with an
        input on its device: the new layer meets that input (or what the moved layers make
        of it).  Reported once, at the assignment that set the layer."""
        placed = [(n, v) for n, v in operands if may_be_placed(v.device)]
        site = module.site
        if not placed or site is None or not self.once("graft", id(site)):
            return
        layer = module.via[len(GRAFT) :]
        culprit = Value(Kind.MODULE, DEV_CPU)
        self.add_fact(
            self.facts.mismatches,
            Mismatch(
                node=site,
                context=Context.MODULE_CALL,
                op_text=module_text,
                culprit=Operand(layer, culprit, site),
                partner=Operand(self.text(placed[0][0]), placed[0][1], placed[0][0]),
                cause=Cause.OTHER,
                module_text=module_text,
                grafted=layer,
            ),
            False,
            None,
            None,
        )

    def cpu_input_args(self, module: Value, args: list[tuple[cst.Arg, Value]]) -> set[int]:
        """Ids of the arguments that the module's `forward` needs on the CPU
        (`ClassInfo.cpu_inputs`).  A module whose class is unknown here (a parameter
        `model`) may be any module class of this file."""
        info = self.classes.get(module.type_name)
        if info is not None:
            candidates = [info] if info.cpu_inputs else []
        elif module.origin is Origin.PARAM or not module.type_name:
            candidates = self.packing_classes
        else:
            candidates = []
        out: set[int] = set()
        for cls in candidates:
            names = parameter_names(cls.methods["forward"], True, [a for a, _ in args])
            out.update(id(a) for name, (a, _) in zip(names, args) if name in cls.cpu_inputs)
        return out

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
            home = self.default_home(scope)
            value = Value(
                Kind.MODULE,
                DEV_ANY if info.stateless else home,
                oid=self.new_oid(),
                type_name=info.name,
                moves_inputs=info.moves_inputs,
            )
            if "to" in info.methods or "_apply" in info.methods:
                value = replace(value, device=DEV_UNKNOWN)
            elif not info.stateless and is_cpu(value.device):
                placed = self.constructed_device(info, node, args, scope)
                if placed is not None:
                    value = replace(value, device=placed)
            init = info.methods.get("__init__")
            bound = bind_args(init, True, args) if init is not None else None
            if init is not None and bound is not None:
                # what the constructor's parameters receive (a shape probe in `__init__`
                # of a backbone every caller builds on the CPU is not a finding)
                self.record_passed(init, bound, scope, node, True)
                value = self.wrapper_device(info, init, bound, value)
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

    def wrapper_device(
        self, info: ClassInfo, init: cst.FunctionDef, bound: dict[str, Value], value: Value
    ) -> Value:
        """A module that keeps a module it is given (`self.gp = gp`) holds that module's
        parameters: built around a moved model, it is where that model is (when it makes
        no layers of its own), or of unknown place (when it does: partly moved)."""
        if value.device == DEV_UNKNOWN:
            return value
        held = [
            bound[p]
            for p in sorted(stored_parameters(init))
            if p in bound and bound[p].kind is Kind.MODULE
        ]
        if not held or all(v.device == value.device for v in held):
            return value
        own = class_state(info, self.imports)
        devices = {v.device for v in held}
        if own["layers"] or own["builds"] or len(devices) != 1:
            return replace(value, device=DEV_UNKNOWN)
        return replace(value, device=devices.pop())

    def default_home(self, scope: Scope) -> Device:
        """Where a module built here without `device=` lives: the CPU, or the default
        device of an enclosing `with torch.device(...)`; unknown once the file calls
        `torch.set_default_device(...)` (in force or not, the engine cannot tell)."""
        if scope.default_device is not None:
            return scope.default_device
        return DEV_UNKNOWN if self.default_device_changed else DEV_CPU

    def constructed_device(
        self, info: ClassInfo, node: cst.Call, args: list[tuple[cst.Arg, Value]], scope: Scope
    ) -> Optional[Device]:
        """The device a module of this file is built on when its `__init__` places its
        state itself: parameters and buffers made from tensors already on a device
        (`self.register_buffer("root", root)`, `nn.Parameter(t)`), or layers built with
        `device=` (`nn.Linear(d, 2, **factory_kwargs)`).  `__init__` runs with the
        caller's arguments.  None when nothing is placed (the module is on the CPU);
        unknown when only part of its state is."""
        init = info.methods.get("__init__")
        if init is None or not info.places_state:
            return None
        inner = self.call_scope(
            init,
            info,
            node,
            args,
            scope,
            self_value=Value(Kind.MODULE, DEV_CPU, type_name=info.name),
            none_defaults=True,
        )
        if inner is None:
            return None
        devices = list(inner.placements)
        for key, v in inner.env.items():
            if key.startswith("self.") and key.count(".") == 1 and v.kind is Kind.MODULE:
                devices.append(v.device)
        placed = [d for d in devices if is_placed(d) and not is_weak(d)]
        if not placed:
            return None
        if any(not is_placed(d) and d != DEV_ANY for d in devices):
            return DEV_UNKNOWN  # partly placed: neither side is certain
        out = placed[0]
        for d in placed[1:]:
            out = join_devices(out, d)
        return out

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
        inner = self.call_scope(func, cls, node, args, scope, self_value)
        helper = self.move_helper_of(func)
        if helper is not None:
            # `to_device(batch, device)`: what it returns is its argument, moved
            bound = bind_args(func, cls is not None, args) or {}
            moved = moved_by_helper(bound.get(helper[0]), bound.get(helper[1]))
            if moved is not None:
                return moved
        if inner is None:
            return UNKNOWN
        if not inner.returns:
            return OTHER
        return join_all(inner.returns)

    def move_helper_of(self, func: cst.FunctionDef) -> Optional[tuple[str, str]]:
        """`syntax.move_helper(func)`, read once per function: every evaluated call of a
        same-file function asks, and so does the module's summary."""
        key = id(func)
        if key not in self._move_helpers:
            self._move_helpers[key] = move_helper(func)
        return self._move_helpers[key]

    def record_passed(
        self,
        func: cst.FunctionDef,
        bound: dict[str, Value],
        scope: Scope,
        node: Optional[cst.Call] = None,
        is_method: bool = False,
    ) -> None:
        """Remember what a same-file call passes each parameter of `func`: a placed
        tensor or module, a CPU one, or something else.  Data-pipeline code (a dataset's
        methods, a collate function) only ever holds CPU data: what it passes is CPU.
        `node`: the call, counted with the parameters it passes (a private helper's
        default that every call overrides is never used); `is_method`: `func` is called
        bound (its `self` is not among the call's arguments)."""
        if node is not None:
            self.call_sites.setdefault(id(func), set()).add(id(node))
            relayed = relayed_defaults(node, func, is_method, scope.func)
            for pname in bound:
                if pname not in relayed:
                    self.passing_sites.setdefault((id(func), pname), set()).add(id(node))
        cpu_side = self.cpu_side_scope(scope)
        for pname, value in bound.items():
            kind = passed_kind(value, cpu_side)
            if kind == "other" and scope.func is not None:
                # the caller hands on its own parameter: what it passes is what the
                # caller's callers pass (`keeps_parameter_fact` follows it)
                relayed = relayed_param(value, scope.func)
                if relayed is not None:
                    kind = f"{RELAY}{id(scope.func)}:{relayed}"
            if kind == "placed":
                self.placed_params.add((id(func), pname))
            self.passed.setdefault((id(func), pname), set()).add(kind)

    def call_scope(
        self,
        func: cst.FunctionDef,
        cls: Optional[ClassInfo],
        node: cst.Call,
        args: list[tuple[cst.Arg, Value]],
        scope: Scope,
        self_value: Optional[Value] = None,
        none_defaults: bool = False,
    ) -> Optional[Scope]:
        """`call_function`'s analysis, returning the callee's final scope (None when the
        call is too deep, recursive, or its arguments cannot be bound): a constructor
        reads from it where `__init__` put the module's parameters."""
        if scope.depth >= MAX_CALL_DEPTH or id(func) in self._in_progress:
            return None
        bound = bind_args(func, cls is not None, args)
        if bound is None:
            return None
        if none_defaults:
            # `device=None` left out by the caller is None here, not "some device"
            for p in (*func.params.params, *func.params.kwonly_params):
                if (
                    p.name.value not in bound
                    and isinstance(p.default, cst.Name)
                    and p.default.value == "None"
                ):
                    bound[p.name.value] = OTHER
        self.record_passed(func, bound, scope, node, cls is not None)
        # what the caller left out is the default: a flag (`cuda=False`) or `None`
        # decides the callee's branches
        # (unless a starred argument may be passing them)
        if not any(a.star for a, _ in args):
            bound.update(default_constants(func, bound))
        # a default device in force at the call (`with torch.device(...)`) is in force in
        # the callee too: its factories follow it
        default = scope.default_device
        self.call_defaults.setdefault(id(func), set()).add(
            default if default is not None and is_placed(default) and not is_weak(default) else None
        )
        reporter = scope if scope.report else scope.reporter
        key = self._call_key(func, cls, bound, self_value, scope.depth + 1)
        if key is not None and default is not None:
            key = (*key, default)
        if key is not None and reporter is not None:
            key = (*key, id(reporter.func))
        inner = self._call_memo.get(key) if key is not None else None
        if inner is None:
            self._in_progress.add(id(func))
            try:
                inner = self.analyze_function(
                    func,
                    cls,
                    report=False,
                    args=bound,
                    self_value=self_value,
                    depth=scope.depth + 1,
                    default_device=default,
                    reporter=reporter,
                )
            finally:
                self._in_progress.discard(id(func))
            if key is not None and _made_no_objects(inner, bound, self_value):
                self._call_memo[key] = inner
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
        return inner

    def _call_key(
        self,
        func: cst.FunctionDef,
        cls: Optional[ClassInfo],
        bound: dict[str, Value],
        self_value: Optional[Value],
        depth: int,
    ) -> Optional[tuple]:
        """What a same-file call's analysis depends on: the function, its class, the
        argument values, `self`, the depth (calls deeper than `MAX_CALL_DEPTH` stop), the
        calls in progress (recursion stops), and which module environment is the globals
        (the module's own walk sees an empty one).  The analysis runs with reporting off,
        and what it leaves behind (placed parameters, once-keys...) is the same each
        time, so a second call with the same key can take the first one's scope.
        None when a value cannot be hashed."""
        try:
            key = (
                id(func),
                id(cls),
                tuple(sorted(bound.items())),
                self_value,
                depth,
                frozenset(self._in_progress),
                id(self.module_env),
            )
            hash(key)
        except TypeError:
            return None
        return key


# calls of one imported function a module's summary keeps (`fed`): enough to see
# whether a helper is fed CPU data everywhere, bounded for generated code
MAX_FED_CALLS = 64


def passed_kind(value: Value, cpu_side: bool) -> str:
    """What a call passes a parameter: `"placed"` (a tensor, module or device on an
    accelerator), `"host"` (data that is on the host by design: anything data-pipeline
    code passes, a `.cpu()` copy, a module that moves its inputs itself), `"cpu"` (a
    tensor or module that merely happens to be on the CPU: an example's `torch.ones(3)`)
    or `"other"` (unknown, or not a tensor)."""
    if (
        value.kind in (Kind.TENSOR, Kind.MODULE, Kind.DEVICE)
        and is_placed(value.device)
        and not is_weak(value.device)
        # a wrapper that moves its inputs itself (DDP with `device_ids`): a CPU input is
        # what it expects
        and not (value.kind is Kind.MODULE and value.moves_inputs)
    ):
        return "placed"
    if (
        cpu_side
        # whatever it is, `x.cpu()` put it on the host (`waveform.cpu().float()`)
        or (value.type_name == MOVED and is_cpu(value.device))
        # a wrapper that moves its inputs takes them from the host
        or (value.kind is Kind.MODULE and value.moves_inputs)
    ):
        return "host"
    # a default standing in for an omitted argument is CPU only on the path that omits
    # it: what the callers' callers pass is passed too
    if value.kind in (Kind.TENSOR, Kind.MODULE) and is_cpu(value.device) and not value.fills:
        return "cpu"
    return "other"


# what counts as CPU data among what a same-file call passes
ON_HOST = frozenset({"cpu", "host"})
# the kind of a passed value that is the calling function's own parameter:
# `relay:<id of the caller>:<its parameter>`
RELAY = "relay:"


def relayed_param(value: Value, caller: cst.FunctionDef) -> Optional[str]:
    """The parameter of `caller` that `value` is, unchanged (`self.pool(x, n_wins)` in a
    `forward(self, x, n_wins)`): a tensor on that parameter's symbolic device."""
    name = sole_param(value.device) if value.kind is Kind.TENSOR else None
    return name if name is not None and has_param(caller, name) else None


def _made_no_objects(inner: Scope, bound: dict[str, Value], self_value: Optional[Value]) -> bool:
    """Did the analysis return only objects the caller gave it?  A module made inside the
    callee gets a new identity on every call (two `make_model()` are two models, one of
    which may be moved): such a result must not be shared between calls."""
    given = {v.oid for v in bound.values()} | ({self_value.oid} if self_value else set())
    made: set[int] = set()
    for value in inner.returns:
        _collect_oids(value, made)
    return made <= given


def _collect_oids(value: Value, into: set[int]) -> None:
    if value.oid:
        into.add(value.oid)
    for part in (*(value.elems or ()), *(v for _, v in (value.entries or ())), value.elem):
        if part is not None:
            _collect_oids(part, into)


_Handler = Callable[[CallsMixin, str, str, cst.Call, Scope], Value]
_SCALAR_BUILTINS = (
    "len", "int", "float", "str", "bool", "print", "isinstance", "min", "max", "round",
    "abs", "sum", "hasattr", "getattr",
)  # fmt: skip
_BY_NAME: dict[str, _Handler] = {
    "torch.device": CallsMixin._call_device,
    "torch.load": CallsMixin._call_load,
    "torch.save": CallsMixin._call_save,
    "torch.serialization.save": CallsMixin._call_save,
    "torch.serialization.load": CallsMixin._call_load,
    "torch.set_default_device": CallsMixin._call_other,
    "torch.autograd.Variable": CallsMixin._call_variable,
    "torch.autograd.variable.Variable": CallsMixin._call_variable,
    "enumerate": CallsMixin._call_enumerate,
    "builtins.enumerate": CallsMixin._call_enumerate,
    "zip": CallsMixin._call_zip,
    "builtins.zip": CallsMixin._call_zip,
    "next": CallsMixin._call_next,
    "builtins.next": CallsMixin._call_next,
    **{name: CallsMixin._call_other for name in _SCALAR_BUILTINS},
    "range": CallsMixin._call_range,
    "open": CallsMixin._call_opaque,
    **{name: CallsMixin._call_sequence for name in ("list", "tuple", "sorted", "reversed")},
    "timm.create_model": CallsMixin._call_model_zoo,
    "torch.hub.load": CallsMixin._call_hub_load,
    "clip.load": CallsMixin._call_self_placing_model,
    "clip.tokenize": CallsMixin._call_host_tensor,
    "whisper.load_model": CallsMixin._call_self_placing_model,
    "whisper.log_mel_spectrogram": CallsMixin._call_follows_audio,
    "whisper.pad_or_trim": CallsMixin._call_follows_audio,
    "whisper.decode": CallsMixin._call_whisper_with_model,
    "whisper.detect_language": CallsMixin._call_whisper_with_model,
    "apex.amp.initialize": CallsMixin._call_amp_initialize,
    "torch.accelerator.current_accelerator": CallsMixin._call_default_device,
    "torch.get_default_device": CallsMixin._call_default_device,
}
# by the last part of the name, whatever package it comes from
_BY_LAST: dict[str, _Handler] = {
    "DataLoader": CallsMixin._call_loader,
    "TensorDataset": CallsMixin._call_tensor_dataset,
    "tqdm": CallsMixin._call_pass_through,
    "trange": CallsMixin._call_pass_through,
    "iter": CallsMixin._call_pass_through,
    "DataParallel": CallsMixin._call_data_parallel,
    "DistributedDataParallel": CallsMixin._call_data_parallel,
    "FullyShardedDataParallel": CallsMixin._call_data_parallel,
    "from_pretrained": CallsMixin._call_from_pretrained,
}
# the models that sentence-transformers places on an available accelerator by themselves
SELF_PLACING_CLASSES = frozenset(("SentenceTransformer", "CrossEncoder", "SparseEncoder"))
# Ultralytics' model classes (`YOLO("yolov8n.pt")`: `_call_ultralytics_model`)
ULTRALYTICS_MODELS = frozenset(("YOLO", "RTDETR", "YOLOWorld", "YOLOE", "NAS", "SAM", "FastSAM"))
# `Value.type_name` of an image transform that returns a new CPU tensor (CLIP's
# `preprocess`)
HOST_TRANSFORM = "<host transform>"
# loaders of other libraries that place their models: name -> (library, `type_name`)
_SELF_PLACING_LOADERS = {
    "clip.load": ("CLIP", CLIP_MODEL),
    "whisper.load_model": ("Whisper", WHISPER_MODEL),
}
# `sentence_transformers.util` scores whose result is on their inputs' device
EMBEDDING_SIMILARITIES = frozenset(
    (
        "cos_sim",
        "pytorch_cos_sim",
        "dot_score",
        "pairwise_cos_sim",
        "pairwise_dot_score",
        "manhattan_sim",
        "euclidean_sim",
        "pairwise_manhattan_sim",
        "pairwise_euclidean_sim",
    )
)
_TORCH_RUNTIME = (
    "cuda", "backends", "distributed", "manual_seed", "autograd", "amp", "jit", "onnx", "compile",
)  # fmt: skip
# families of names, tried in this order: (q, last) -> does the handler apply?
_FAMILIES: tuple[tuple[Callable[[str, str], bool], _Handler], ...] = (
    (
        lambda q, last: (
            q.startswith("torch.")
            and q.count(".") == 1
            and (last in N.FACTORIES or last in N.LEGACY_CONSTRUCTORS)
        ),
        CallsMixin._call_factory,
    ),
    (
        lambda q, last: q.startswith("torch.") and last in N.INHERITING_FACTORIES,
        CallsMixin._call_inheriting_factory,
    ),
    (
        lambda q, last: q.startswith("torch.nn.") and last[:1].isupper() and "functional" not in q,
        CallsMixin._call_nn_constructor,
    ),
    (
        lambda q, last: q.startswith("torch.optim.") and last[:1].isupper(),
        CallsMixin._call_optimizer,
    ),
    (
        lambda q, last: q.startswith("sentence_transformers.") and last in SELF_PLACING_CLASSES,
        CallsMixin._call_self_placing_model,
    ),
    (
        lambda q, last: q.startswith("sentence_transformers.") and last in EMBEDDING_SIMILARITIES,
        CallsMixin._call_embedding_similarity,
    ),
    (
        lambda q, last: q.startswith("ultralytics.") and last in ULTRALYTICS_MODELS,
        CallsMixin._call_ultralytics_model,
    ),
    (
        lambda q, last: (
            q.startswith("torchvision.models.") and last[:1].islower() and last != "get_weight"
        ),
        CallsMixin._call_model_zoo,
    ),
    (lambda q, last: q.startswith(("numpy.", "np.")), CallsMixin._call_numpy),
    (
        lambda q, last: q.startswith("matplotlib.") and last in N.PLOT_FUNCTIONS,
        CallsMixin._call_plot,
    ),
    (
        lambda q, last: q == "torch.nn.utils.rnn.pack_padded_sequence",
        CallsMixin._call_pack_padded,
    ),
    (
        # public metrics only: torchmetrics' private helpers move and reshape their inputs
        lambda q, last: q.startswith("torchmetrics.") and not last.startswith("_"),
        CallsMixin._call_metric,
    ),
    (
        lambda q, last: (
            q.startswith("torch.")
            and (last in N.COMBINING_FUNCTIONS or q.startswith("torch.nn.functional."))
        ),
        CallsMixin._call_torch_function,
    ),
    (
        lambda q, last: q.startswith("torch.") and q.split(".")[1] in _TORCH_RUNTIME,
        CallsMixin._call_torch_runtime,
    ),
    (
        lambda q, last: q.startswith("torch.") and q.count(".") == 1 and last[:1].islower(),
        CallsMixin._call_torch_op,
    ),
    # `torch.linalg.cholesky(S)`, `torch.fft.rfft(x)`: results on their input's device
    (
        lambda q, last: (
            q.startswith(("torch.linalg.", "torch.fft.", "torch.special."))
            and q.count(".") == 2
            and last[:1].islower()
        ),
        CallsMixin._call_torch_op,
    ),
)


def _named(node: cst.BaseExpression, device: Device) -> set[str]:
    """The names an expression uses and the parameters its device follows."""
    return param_names(device) | set(names_in(node))


# sparse constructors: made on their values' device, which their indices must share
_SPARSE_CONSTRUCTORS = frozenset(
    {"sparse_coo_tensor", "sparse_csr_tensor", "sparse_csc_tensor", "sparse_compressed_tensor"}
)
# NumPy's scalar types (`np.float32(x)`, `np.int64(n)`): a number, not an array read
_NUMPY_SCALAR_TYPE = re.compile(r"^(float|int|uint|complex)\d*$|^(bool_|double|single|half)$")

# methods named for the accelerator they move to: what they hard-code is their purpose
ACCELERATOR_METHODS = frozenset(
    {"cuda", "to_cuda", "gpu", "to_gpu", "xpu", "to_xpu", "mps", "to_mps", "npu", "hpu"}
)
# environment keys marking a path `torch.save` wrote in this scope (`<saved>path`)
SAVED = "<saved>"


def path_key(text: str) -> str:
    """A path expression's text, without its layout: `os.path.join(d, "x.pt")`."""
    return "".join(text.split())


def is_cpu_copy(node: Optional[cst.BaseExpression]) -> bool:
    """`x.cpu()` or `model.cpu().state_dict()`: whatever `x` or `model` is, what is
    saved is on the CPU (a module's `.cpu()` moves it there in place)."""
    if not isinstance(node, cst.Call) or not isinstance(node.func, cst.Attribute):
        return False
    if node.func.attr.value == "cpu":
        return True
    return node.func.attr.value == "state_dict" and is_cpu_copy(node.func.value)


# tensor methods whose result is on the receiver's device (a `.cpu()` copy stays one)
_KEEPS_DEVICE = frozenset(
    {
        "float",
        "double",
        "half",
        "long",
        "int",
        "detach",
        "clone",
        "contiguous",
        "squeeze",
        "unsqueeze",
        "view",
        "reshape",
        "permute",
        "transpose",
        "flatten",
        "clamp",
        "mul",
        "add",
    }
)


def is_host_copy(node: cst.BaseExpression) -> bool:
    """`scores.cpu()[0]`, `out.detach().cpu().float()`: a copy made on the host right
    where it is passed, whatever the tensor was."""
    while True:
        if isinstance(node, cst.Subscript):
            node = node.value
        elif (
            isinstance(node, cst.Call)
            and isinstance(node.func, cst.Attribute)
            and node.func.attr.value in _KEEPS_DEVICE
        ):
            node = node.func.value
        else:
            return (
                isinstance(node, cst.Call)
                and isinstance(node.func, cst.Attribute)
                and node.func.attr.value == "cpu"
            )


def holds_no_device_tensor(value: Value) -> bool:
    """A payload that certainly holds no tensor off the CPU: constants (strings, numbers,
    `None`), devices, tensors certainly on the CPU (`x.cpu()`, `model.cpu().state_dict()`,
    `{k: v.cpu() for ...}`), and containers of those.  Anything unknown may hold one."""
    if value.kind is Kind.OTHER:
        return value.const is not NO_CONST or value.type_name == NUMBER.type_name
    if value.kind is Kind.DEVICE:
        return True
    if value.kind is Kind.TENSOR:
        return is_cpu(value.device)
    if value.kind is not Kind.BATCH:
        return False
    parts: list[Value] = []
    if value.entries is not None:
        parts = [v for _, v in value.entries]
    elif value.elems is not None:
        parts = list(value.elems)
    elif value.elem is not None:
        parts = [value.elem]
    else:
        return False
    return all(holds_no_device_tensor(v) for v in parts)


def kwargs_device(value: Value) -> Device:
    """Where `**kwargs` places a layer: the device its `device` entry names (a known dict
    without one leaves the CPU), unknown for a dict the engine cannot see into."""
    if value.entries is None:
        return DEV_UNKNOWN
    for key, entry in value.entries:
        if key == "device":
            if entry.kind is Kind.DEVICE:
                return entry.device
            return DEV_CPU if entry.kind is Kind.OTHER and entry.device == DEV_ANY else DEV_UNKNOWN
    return DEV_CPU


# the handler `eval_known_call` found for a qualified name (None: none)
_MISSING = object()
_HANDLERS: dict[str, object] = {}


def told_device(args: list[tuple[cst.Arg, Value]]) -> bool:
    """Whether a call is told which device to use: a device value that is not the CPU, or
    an argument named for one (`use_gpu=flag`, `gpu_setting`, `device=dev`) that is not
    a false constant or the CPU."""
    for arg, value in args:
        if value.const is not NO_CONST and not value.const:
            continue
        if value.kind is Kind.DEVICE:
            if not is_cpu(value.device):
                return True
            continue
        name = arg.keyword.value if arg.keyword is not None else N.dotted(arg.value)
        if name and N.DEVICE_CONDITION_RE.search(name.rsplit(".", 1)[-1]):
            return True
    return False


def relayed_defaults(
    node: cst.Call, func: cst.FunctionDef, is_method: bool, caller: Optional[cst.FunctionDef]
) -> set[str]:
    """The parameters of `func` that the call hands the caller's own defaulted parameter
    (`_update(preds, threshold=threshold)` in `def rate(preds, threshold=0.5)`): every
    caller of the caller that omits it reaches the callee's default path all the same."""
    if caller is None:
        return set()
    defaulted = {p.name.value for p in all_params(caller) if p.default is not None}
    if not defaulted:
        return set()
    names = parameter_names(func, is_method, node.args)
    return {
        name
        for name, arg in zip(names, node.args)
        if name is not None and type(arg.value) is cst.Name and arg.value.value in defaulted
    }


def moved_by_helper(data: Optional[Value], device: Optional[Value]) -> Optional[Value]:
    """What a move helper (`syntax.move_helper`) returns for these arguments: the data
    on the device, a container's tensors moved, something unknown as moved; None when
    the device is not known."""
    if data is None or device is None or device.kind not in (Kind.DEVICE, Kind.TENSOR):
        return None
    target = device.device
    if not is_known(target):
        return None
    if data.kind is Kind.TENSOR:
        return tensor(target, scalar=data.scalar, requires_grad=data.requires_grad)
    if data.kind is Kind.BATCH:
        return move_container(data, target)
    return Value(Kind.UNKNOWN, target, type_name=MOVED)
