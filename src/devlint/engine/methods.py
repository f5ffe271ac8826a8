"""Method calls: tensor methods (which follow their receiver, combine operands or leave
the tensor world), module methods, batch containers and methods of project classes."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Optional

import libcst as cst

from devlint.engine import names as N
from devlint.engine.facts import (
    NumpyCall,
)
from devlint.engine.scope import (
    CLIP_MODEL,
    SELF_PLACING,
    ULTRA_MODEL,
    WHISPER_MODEL,
    ClassInfo,
    Scope,
)
from devlint.engine.summary import followed_argument
from devlint.engine.syntax import flag_constant
from devlint.engine.values import (
    CPU,
    DEV_ANY,
    DEV_CPU,
    DEV_UNKNOWN,
    MODULE_STATE,
    MOVED,
    OTHER,
    UNKNOWN,
    Kind,
    Origin,
    Value,
    container_device,
    is_cpu,
    is_default_fill,
    is_known,
    is_placed,
    is_weak,
    join_values,
    module_state_tensor,
    partly_cpu,
    sole_param,
    sym,
    tensor,
)

# Methods only a tensor has (a module, a Hugging Face batch or a graph object with a
# `.to()` of its own has none of them): what `x.to(device)` returned, when `x` is not
# known, is a tensor once one of these is called on it.
TENSOR_ONLY_METHODS = frozenset(
    {"numpy", "detach", "detach_", "contiguous", "unsqueeze", "squeeze", "permute", "argmax"}
)


class MethodsMixin:
    """`Analyzer` methods that evaluate `receiver.method(...)` calls."""

    # ------------------------------------------------------------------ methods
    def grow_list(
        self,
        target: cst.BaseExpression,
        receiver: Value,
        name: str,
        added: tuple[cst.Arg, Value],
        scope: Scope,
    ) -> None:
        """`layers.append(layer)` (`insert`, `extend`): the list's elements now include
        the module added, so iterating it later yields modules where they are.  Only a
        list of modules built here from `[]` is tracked: tensors gathered in a list are
        as often indices or lengths that may stay on the CPU (`torch.cat(type_list)`
        handed to a module that only reads it on the host)."""
        key = N.dotted(target)
        if key is None or scope.env.get(key) is not receiver:
            return
        item = added[1]
        if name == "extend":
            item = self.element_of(item, added[0].value, scope)
        if item.kind is not Kind.MODULE:
            return
        if receiver.elems == ():
            elem = item
        elif receiver.elems is None and receiver.elem is not None and receiver.entries is None:
            elem = join_values(receiver.elem, item)
        else:
            return
        scope.env[key] = Value(Kind.BATCH, container_device([elem]), elem=elem)

    def eval_method_call(self, node: cst.Call, func: cst.Attribute, scope: Scope) -> Value:
        name = func.attr.value
        if (
            name in ("forward", "__call__")
            and type(func.value) is cst.Call
            and N.last_name(func.value.func) == "super"
            and scope.cls is not None
            and scope.cls.is_module
        ):
            # `super().forward(x)` in a module's method: the base's layers are this
            # module's, so the output is on the module's device (sbi's CategoricalMADE)
            self.eval_args(node, scope)
            return Value(
                Kind.TENSOR, sym("self"), Origin.MODEL_OUTPUT, scalar=False, requires_grad=True
            )
        receiver = self.eval(func.value, scope)
        if name in ("register_buffer", "register_parameter") and scope.cls is not None:
            args = self.eval_args(node, scope)
            if len(args) > 1 and args[1][1].kind is Kind.TENSOR:
                # a buffer made from a tensor that is already somewhere (see
                # `CallsMixin.constructed_device`)
                scope.placements.append(args[1][1].device)
            if name == "register_parameter":
                return OTHER
            key = N.string_value(node.args[0].value) if node.args else None
            if key is not None:
                scope.env[f"self.{key}"] = tensor(
                    sym("self") if scope.cls.is_module else DEV_UNKNOWN, scalar=None
                )
            return OTHER
        if receiver.type_name == MODULE_STATE and name == "detach":
            receiver = module_state_tensor(receiver)
        if receiver.type_name == MOVED and name in TENSOR_ONLY_METHODS:
            # `x.to(device)` of something unknown, then `.numpy()` or `.detach()`: only a
            # tensor has both (a model's `.to()` has no `.numpy()`): a tensor on `device`
            receiver = tensor(receiver.device, scalar=None)
        if (
            receiver.kind is Kind.TENSOR
            and receiver.origin is Origin.LOADER
            and name in ("keys", "items", "values")
            and type(func.value) is cst.Name
        ):
            # `for x, y in loader:` ... `x.keys()`: the batch's first part is a dict of
            # tensors, not a tensor (its entries are stored one by one: `x[k] = ...`)
            scope.env[func.value.value] = Value(
                Kind.BATCH, receiver.device, Origin.LOADER, site=receiver.site
            )
            self.eval_args(node, scope)
            return Value(Kind.BATCH, DEV_ANY) if name == "keys" else UNKNOWN
        if receiver.type_name == ULTRA_MODEL and name in ("predict", "track", "__call__"):
            self.eval_args(node, scope)
            return self.ultralytics_results(node, receiver, scope)
        if receiver.kind is Kind.TENSOR:
            return self.tensor_method(node, name, receiver, func, scope)
        if receiver.kind is Kind.MODULE or receiver.type_name == MOVED:
            args = self.eval_args(node, scope)
            if name in ("forward", "__call__"):
                return self.module_call(node, receiver, args, scope)
            if "offload" in name or name in ("dispatch", "enable_group_offload"):
                self.move_in_place(receiver, None, replace(receiver, device=DEV_UNKNOWN), scope)
                return OTHER
            if name in ("parameters", "buffers"):
                return Value(
                    Kind.BATCH, receiver.device, elem=tensor(receiver.device, requires_grad=True)
                )
            if name in ("children", "modules"):
                return Value(Kind.BATCH, receiver.device, elem=Value(Kind.MODULE, receiver.device))
            if name in ("named_parameters", "named_buffers", "named_children", "named_modules"):
                item = (
                    Value(Kind.MODULE, receiver.device)
                    if name in ("named_children", "named_modules")
                    else tensor(receiver.device, requires_grad=True)
                )
                pair = Value(Kind.BATCH, receiver.device, elems=(OTHER, item))
                return Value(Kind.BATCH, receiver.device, elem=pair)
            if receiver.type_name == "nn.ModuleDict" and name in ("values", "items"):
                member = Value(Kind.MODULE, receiver.device)
                if name == "items":
                    member = Value(Kind.BATCH, receiver.device, elems=(OTHER, member))
                return Value(Kind.BATCH, receiver.device, elem=member)
            if name == "state_dict":
                return Value(Kind.BATCH, receiver.device, elem=tensor(receiver.device))
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
            if (receiver.type_name, name) in _SELF_PLACED_INPUTS:
                # CLIP's `model.encode_image(image)`, Whisper's `model.detect_language(mel)`:
                # the model's own layers read the input where the model is
                return self.module_call(node, receiver, args, scope)
            if receiver.type_name == WHISPER_MODEL and name == "transcribe":
                return OTHER  # it moves the audio to the model's device itself
            if receiver.type_name == SELF_PLACING and name.startswith(("encode", "predict")):
                # sentence-transformers: NumPy arrays (on the host) unless asked for tensors,
                # which stay where the model is
                wanted = self.keyword(node, "convert_to_tensor")
                if wanted is not None and flag_constant(wanted.value) is True:
                    return tensor(receiver.device, scalar=False)
                return OTHER
            info = self.classes.get(receiver.type_name) or self.unique_method_owner(name)
            if name in ("generate", "encode", "decode", "predict", "sample", "embed") or (
                info is not None and name in info.methods
            ):
                if info is not None and name in info.methods:
                    return self.call_function(
                        info.methods[name], info, node, args, scope, self_value=receiver
                    )
                return self.module_output(receiver, args)
            inherited = self.inherited_return(receiver.type_name, name, args)
            return inherited if inherited is not None else UNKNOWN
        if receiver.kind is Kind.BATCH:
            args = self.eval_args(node, scope)
            if name in ("append", "insert", "extend") and args:
                self.grow_list(func.value, receiver, name, args[-1], scope)
                return OTHER
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
                if len(args) > 1 and is_default_fill(args[1][1]):
                    return args[1][1]  # `batch.get("weight", torch.ones(n))`
                return receiver.elem or UNKNOWN
            if name in ("pop",) and args:
                return receiver.elem or UNKNOWN
            return UNKNOWN
        if receiver.kind is Kind.LOADER:
            self.eval_args(node, scope)
            return UNKNOWN
        if name == "get" and len(node.args) == 2 and receiver.kind is Kind.UNKNOWN:
            args = self.eval_args(node, scope)
            return args[1][1] if is_default_fill(args[1][1]) else UNKNOWN
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
        inherited = self.inherited_return(receiver.type_name, name, args)
        if inherited is not None:
            return inherited
        # accelerate / fabric move things for the user, in place too
        if name in ("prepare", "setup", "setup_dataloaders", "prepare_model", "setup_module"):
            self.forget_devices(args, scope)
            return Value(Kind.BATCH, DEV_UNKNOWN)
        if name == "add_argument":
            self.check_argparse_default(node, scope)
        if (
            name == "type"
            and len(node.args) == 1
            and self.type_cast(node.args[0].value, UNKNOWN).device == frozenset({"cuda"})
        ):
            # `x.type(torch.cuda.FloatTensor)` of a value known no better: only tensors and
            # modules take a tensor type, and both move to the current CUDA device
            self.add_hardcoded(node, self.text(node.args[0].value), "cuda_type", scope, node)
            self.requires_accelerator_here(node, scope)
        if name in N.PLOT_FUNCTIONS and receiver.kind in (Kind.UNKNOWN, Kind.OTHER):
            self.plot_reads(node, args, scope)  # `ax.plot(t)`: Matplotlib's `Axes`
        if name == "numpy":
            return Value(Kind.NDARRAY, DEV_ANY)
        return UNKNOWN

    def inherited_return(
        self, type_name: str, name: str, args: list[tuple[cst.Arg, Value]]
    ) -> Optional[Value]:
        """`self.logits(theta, x)` where a base class in another module of the project
        defines `logits` (or `obj.logits(...)` on an object of an imported class): what
        its summary says the method returns, a tensor on the device of one of its
        arguments; None when the project says nothing."""
        if not type_name:
            return None
        info = self.classes.get(type_name)
        if info is not None:
            if name in info.methods:
                return None
            bases = info.bases
        else:
            bases = [type_name]
        for base in bases:
            fact = self.imported_fact(base) if base else None
            if fact is None or fact.get("t") != "class" or name not in fact.get("returns", {}):
                continue
            entry = fact["returns"][name]
            return followed_argument(entry, args, f"{base}.{name}") if entry else UNKNOWN
        return None

    def given_path(self, value: Value, scope: Scope) -> Value:
        """A value on the CPU on one path and on a parameter's device on the other
        (`lens = torch.ones(n)` when `masks` is None, `masks.sum(1)` when it is given), in
        a public function of library code: a caller that passes the parameter on an
        accelerator takes the second path, so the value is on that device there."""
        if not partly_cpu(value.device) or scope.func is None:
            return value
        given = frozenset(a for a in value.device if a != CPU)
        if not all(a.startswith("sym:param:") for a in given):
            return value
        if not self.open_contract(scope, given):
            return value
        return replace(value, device=given, origin=Origin.NONE, site=None)

    def forget_devices(self, args: list[tuple[cst.Arg, Value]], scope: Scope) -> None:
        """Modules handed to something that places them (`fabric.setup(model)`,
        `dispatch_model(model)`, `cpu_offload(model)`): their device is no longer known."""
        for _, value in args:
            if value.kind is Kind.MODULE and value.oid:
                self.move_in_place(value, None, replace(value, device=DEV_UNKNOWN), scope)

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

    def type_cast(self, arg: cst.BaseExpression, receiver: Value) -> Value:
        """`x.type(T)`: a dtype (`torch.float32`) keeps the device; a tensor type moves
        the data, to CUDA for `torch.cuda.FloatTensor` (or its string), to the CPU for
        `torch.FloatTensor`; a type held in a variable (`Tensor = torch.cuda.FloatTensor
        if cuda else torch.FloatTensor`, the old GAN idiom) says nothing certain."""
        text = N.dotted(arg) if not isinstance(arg, cst.SimpleString) else N.string_value(arg)
        q = self.imports.qualify(arg) if text and not isinstance(arg, cst.SimpleString) else text
        if q and re.fullmatch(r"torch\.cuda\.[A-Z]\w*Tensor", q):
            return replace(receiver, device=frozenset({"cuda"}), origin=Origin.NONE, site=None)
        if q and re.fullmatch(r"torch\.[A-Z]\w*Tensor", q):
            return replace(receiver, device=DEV_CPU, origin=Origin.NONE, site=None)
        if q and q.startswith("torch.") and q.rsplit(".", 1)[-1][:1].islower():
            return receiver  # a dtype: `torch.float32`, `torch.long`
        return replace(receiver, device=DEV_UNKNOWN, origin=Origin.NONE, site=None)

    def read_on_host(
        self,
        node: cst.Call,
        data: cst.BaseExpression,
        receiver: Value,
        scope: Scope,
        numpy_function: str = "",
        argument: Optional[cst.BaseExpression] = None,
    ) -> bool:
        """`data.numpy()`, or a NumPy function given `data` (`np.asarray(data)`, which
        asks the tensor for `.numpy()`): a DL007 where `data` may be on an accelerator.
        `argument`: the tensor argument of the NumPy function, when it is one (not a list
        of tensors), for the fix.  True when the call's fact was recorded (at once, or to
        be decided when the file is walked)."""
        receiver = self.given_path(receiver, scope)
        param = sole_param(receiver.device) if scope.func is not None else None
        if param is not None:
            # the function reads that parameter's data into NumPy without a copy to the
            # host: it is written for CPU data (`extract_energy(waveform)`)
            self.numpy_params.add((id(scope.func), param))
        if not (
            scope.report
            and is_placed(receiver.device)
            and receiver.origin is not Origin.DISCARDED
            and self.once("numpy", id(node))
        ):
            return False
        # a parameter's tensor counts only where a call in this file passes it a tensor on
        # the accelerator (library helpers are often CPU-side)
        evidence = (id(scope.func), param) if param is not None else None
        contract = self.open_contract(scope, receiver.device)
        fact = NumpyCall(
            node,
            self.text(data),
            receiver,
            receiver.requires_grad,
            contract,
            numpy_function,
            argument,
        )
        self.add_fact(
            self.facts.numpy_calls,
            fact,
            is_weak(receiver.device) and not contract,
            # under a library contract, still drop it when every same-file call passes
            # that parameter a CPU value (callers in sight that copy to the host first,
            # as diffusers' `score_waveforms(waveform.cpu())`)
            ((-evidence[0], evidence[1]) if evidence else None) if contract else evidence,
        )
        return True

    def tensor_method(
        self, node: cst.Call, name: str, receiver: Value, func: cst.Attribute, scope: Scope
    ) -> Value:
        args = self.eval_args(node, scope)
        if name == "numpy":
            if self.keyword(node, "force") is None:
                self.read_on_host(node, func.value, receiver, scope)
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
        if name == "type" and node.args:
            cast = self.type_cast(node.args[0].value, receiver)
            if cast.device == frozenset({"cuda"}) and receiver.device != cast.device:
                # `x.type("torch.cuda.FloatTensor")`: a move to the current CUDA device
                self.add_hardcoded(node, self.text(node.args[0].value), "cuda_type", scope, node)
                self.requires_accelerator_here(node, scope)
            return cast
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
            if name in N.INDEX_METHODS:
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


# the methods of self-placing models (`calls._call_self_placing_model`) whose tensor
# arguments their layers read where the model is
_SELF_PLACED_INPUTS = frozenset(
    [(CLIP_MODEL, m) for m in ("encode_image", "encode_text")]
    + [(WHISPER_MODEL, m) for m in ("detect_language", "embed_audio", "decode", "logits")]
)
