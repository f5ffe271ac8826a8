"""DL002 hardcoded-accelerator."""

from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from devlint.engine.facts import FileFacts
from devlint.engine.names import string_value
from devlint.engine.walk import walk
from devlint.rules._context import ancestors, parents
from devlint.rules._fixes import (
    LEGACY_DTYPES,
    expression,
    fallback_device,
    keyword_arg,
    method_call,
    positional,
    quote_call,
    replace,
)
from devlint.rules.base import SAFE, UNSAFE, Fix, Report, Rule

_DEVICE_VAR = 'device = torch.device("cuda" if torch.cuda.is_available() else "cpu")'


class HardcodedAccelerator(Rule):
    code = "DL002"
    name = "hardcoded-accelerator"
    summary = "A literal accelerator device (`'cuda'`, `.cuda()`) with no availability check."
    why = (
        "A hard-coded `'cuda'` (or `'mps'`, `'xpu'`) or a bare `.cuda()` fails on every machine "
        "without that accelerator (`AssertionError: Torch not compiled with CUDA enabled` or "
        "`RuntimeError: No CUDA GPUs are available`): CI runners, laptops, CPU inference servers. "
        "Inside a function that receives tensors, `.cuda()` also sends data to the current GPU "
        "rather than to the device of its inputs. A cast to a CUDA tensor type "
        "(`x.type('torch.cuda.FloatTensor')`, `x.type(torch.cuda.FloatTensor)`) is the same "
        "move, written the old way."
    )
    fix = (
        "Choose the device once, with a fallback, and pass it around: "
        f"`{_DEVICE_VAR}`; inside helpers, use the input's device (`x.device`)."
    )
    fix_summary = 'a literal accelerator gets a CPU fallback: `("cuda" if torch.cuda.is_available() else "cpu")`; `x.cuda()` becomes `x.to("cuda" if torch.cuda.is_available() else "cpu")`'
    fix_applicability = "unsafe"
    bad = "model = Net().cuda()\nx = torch.randn(4, 10, device='cuda')\n"
    good = f"{_DEVICE_VAR}\nmodel = Net().to(device)\nx = torch.randn(4, 10, device=device)\n"

    def check(self, facts: FileFacts) -> Iterator[Report]:
        for h in facts.hardcoded:
            if h.form == "cuda_call":
                # the call as written, receiver included however long it is
                called = quote_call(facts, h.call) if h.call is not None else h.literal
                msg = (
                    f"`{called}` hard-codes CUDA with no availability check: it fails on "
                    "machines without a CUDA GPU"
                )
                if h.in_tensor_function:
                    msg += ", and sends data to the current GPU instead of the device of the inputs"
                help_ = (
                    "use `.to(device)` with a device chosen once "
                    f"(`{_DEVICE_VAR}`), or `.to(x.device)` inside helpers"
                )
            elif h.form == "cuda_constructor":
                msg = (
                    f"`{quote_call(facts, h.call) if h.call is not None else h.literal}` makes "
                    "the tensor on CUDA with no availability check: it fails on machines "
                    "without a CUDA GPU"
                )
                help_ = (
                    "make it with a factory on a device chosen once: "
                    "`torch.tensor(data, dtype=torch.long, device=device)`, or on the device "
                    "of the tensors it meets (`device=x.device`)"
                )
            elif h.form == "cuda_type":
                called = quote_call(facts, h.call) if h.call is not None else h.literal
                msg = (
                    f"`{called}` casts to a CUDA tensor type, which moves the data to the current "
                    "CUDA device with no availability check: it fails on machines without a "
                    "CUDA GPU"
                )
                if h.in_tensor_function:
                    msg += ", and sends data to the current GPU instead of the device of the inputs"
                help_ = (
                    "cast the dtype and choose the device apart: `.to(device, torch.float32)` "
                    f"with a device chosen once (`{_DEVICE_VAR}`), or `.to(x.device)` inside "
                    "helpers"
                )
            elif h.form == "follows_cuda":
                called = quote_call(facts, h.call) if h.call is not None else ".cuda()"
                msg = (
                    f"`{called}` runs when `{h.literal}` is on a CUDA device, to follow it, but "
                    "moves to the current CUDA device (`cuda:0` unless the program selects "
                    f"another): with `{h.literal}` on another GPU the next operation mixes devices"
                )
                help_ = f"move it where `{h.literal}` is: `.to({h.literal}.device)`"
            elif h.form == "option_default":
                if _option_resolved_with_fallback(facts, h.node):
                    continue
                msg = (
                    f"the device option defaults to {h.literal}: runs that do not pass it fail on "
                    "machines without that accelerator"
                )
                help_ = (
                    'default to `"cuda" if torch.cuda.is_available() else "cpu"` '
                    "(or `None`, resolved with a fallback)"
                )
            elif h.form == "default":
                msg = (
                    f"parameter default `{h.literal}` hard-codes an accelerator: callers that omit "
                    "it fail on machines without one"
                )
                help_ = "default to `None` and pick the device with a CPU fallback, or take it from the inputs"
            else:
                msg = (
                    f"device `{h.literal}` is hard-coded with no availability check: it fails on "
                    "machines without that accelerator"
                )
                help_ = f"choose the device once with a fallback: `{_DEVICE_VAR}`"
            fix = None
            if h.form == "cuda_call" and h.call is not None:
                fix = _cuda_call_fix(facts, h.call)
            if h.form == "cuda_type" and h.call is not None:
                fix = _cuda_type_fix(facts, h.call, h.literal)
            if h.form == "follows_cuda" and h.call is not None:
                fix = _follow_fix(h.call, h.literal)
            if h.form in ("literal", "option_default") and isinstance(h.node, cst.SimpleString):
                literal = string_value(h.node) or ""
                fallback = fallback_device(literal)
                if fallback is not None:
                    new = expression(f"({fallback})")
                    if new is not None:
                        fix = replace(UNSAFE, f"fall back to the CPU: `{fallback}`", h.node, new)
            yield self.report(h.node, msg, help_, fix=fix)


def _follow_fix(call: cst.Call, tested: str) -> Optional[Fix]:
    """`y.cuda()` under `if x.is_cuda:` -> `y.to(x.device)`: the move the branch means."""
    if not isinstance(call.func, cst.Attribute) or call.args:
        return None
    device = expression(f"{tested}.device")
    if device is None:
        return None
    moved = method_call(call.func.value, "to", positional(device))
    return replace(SAFE, f"move it to `{tested}.device`", call, moved)


def _cuda_call_fix(facts: FileFacts, call: cst.Call) -> Optional[Fix]:
    """`x.cuda()` -> `x.to("cuda" if torch.cuda.is_available() else "cpu")`, keeping other
    keyword arguments (`non_blocking=True`); unsafe (the program now also runs on CPU)."""
    if not isinstance(call.func, cst.Attribute):
        return None
    fallback = fallback_device("cuda")
    assert fallback is not None
    if any(a.keyword is None for a in call.args):
        return None  # a positional argument (`.cuda(True)`): leave it to the author
    device = expression(fallback)
    assert device is not None
    extra = [
        keyword_arg(a.keyword.value, a.value)
        for a in call.args
        if a.keyword is not None and a.keyword.value != "device"
    ]
    args = positional(device, *(a.value for a in extra))
    args[1:] = [kw.with_changes(comma=arg.comma) for kw, arg in zip(extra, args[1:])]
    moved = method_call(call.func.value, "to", args)
    return replace(UNSAFE, "use `.to(...)` with a CPU fallback", call, moved)


def _cuda_type_fix(facts: FileFacts, call: cst.Call, type_text: str) -> Optional[Fix]:
    """`x.type("torch.cuda.FloatTensor")` -> `x.to("cuda" if torch.cuda.is_available()
    else "cpu", torch.float32)`: the same dtype on the chosen device; unsafe (the program
    now also runs on CPU).  None for `torch.cuda.Tensor` (the default dtype) and types
    not known."""
    if not isinstance(call.func, cst.Attribute) or len(call.args) != 1:
        return None
    dtype = LEGACY_DTYPES.get(type_text.strip("\"'").rsplit(".", 1)[-1])
    fallback = fallback_device("cuda")
    if dtype is None or fallback is None:
        return None
    device, cast = expression(fallback), expression(dtype)
    if device is None or cast is None:
        return None
    moved = method_call(call.func.value, "to", positional(device, cast))
    return replace(UNSAFE, "use `.to(device, dtype)` with a CPU fallback", call, moved)


# what a test that considers the machine's accelerators mentions
_AVAILABILITY = frozenset({"is_available", "device_count"})


def _option_dest(call: cst.Call) -> Optional[str]:
    """The attribute `parse_args()` stores an `add_argument(...)` option under."""
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == "dest":
            return string_value(arg.value)
    names = [string_value(a.value) or "" for a in call.args if a.keyword is None]
    long = [n for n in names if n.startswith("--")] or [n for n in names if n.startswith("-")]
    chosen = long[0] if long else (names[0] if names else "")
    dest = chosen.lstrip("-").replace("-", "_")
    return dest or None


def _mentions_availability(node: cst.CSTNode) -> bool:
    return any(
        (type(n) is cst.Name and n.value in _AVAILABILITY)
        or (type(n) is cst.Attribute and n.attr.value in _AVAILABILITY)
        for n in walk(node)
    )


def _under_availability_check(facts: FileFacts, node: cst.CSTNode) -> bool:
    """Whether `node` sits in a conditional expression, an `if`/`elif` or a boolean
    operation that asks whether an accelerator is there (either branch: the author
    chose the device knowing)."""
    for up in ancestors(facts, node):
        if type(up) in (cst.FunctionDef, cst.ClassDef, cst.Module):
            return False
        if type(up) in (cst.IfExp, cst.If, cst.While) and _mentions_availability(up.test):
            return True
        if type(up) is cst.BooleanOperation and _mentions_availability(up):
            return True
    return False


def _option_resolved_with_fallback(facts: FileFacts, default: cst.CSTNode) -> bool:
    """`parser.add_argument("--device", default="cuda")` whose value the program only
    reads under an availability check (`args.device if torch.cuda.is_available() else
    "cpu"`), or replaces under one (`if not torch.cuda.is_available(): args.device =
    "cpu"`): a run without the option falls back to the CPU, nothing fails."""
    up = parents(facts)
    call = up.get(id(up.get(id(default))))
    if type(call) is not cst.Call:
        return False
    dest = _option_dest(call)
    if dest is None:
        return False
    holders = _parsed_arguments(facts.module)
    reads = []
    for node in walk(facts.module):
        if type(node) is not cst.Attribute or node.attr.value != dest:
            continue
        if type(node.value) is not cst.Name or (
            node.value.value not in holders if holders else node.value.value == "torch"
        ):
            continue  # `torch.device`, `self.device`: not the option
        parent = up.get(id(node))
        if type(parent) is cst.AssignTarget and _under_availability_check(facts, parent):
            return True  # replaced with a fallback where there is no accelerator
        reads.append(node)
    return bool(reads) and all(_under_availability_check(facts, r) for r in reads)


def _parsed_arguments(module: cst.Module) -> set[str]:
    """Names bound to `parser.parse_args()` (or the first of `parse_known_args()`)."""
    found: set[str] = set()
    for node in walk(module):
        if type(node) is not cst.Assign or type(node.value) is not cst.Call:
            continue
        func = node.value.func
        if type(func) is not cst.Attribute or func.attr.value not in (
            "parse_args",
            "parse_known_args",
        ):
            continue
        for target in node.targets:
            t = target.target
            if type(t) in (cst.Tuple, cst.List) and t.elements:
                t = t.elements[0].value
            if type(t) is cst.Name:
                found.add(t.value)
    return found
