"""DL002 hardcoded-accelerator."""

from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from devlint.engine.facts import FileFacts
from devlint.engine.names import string_value
from devlint.rules._fixes import (
    expression,
    fallback_device,
    keyword_arg,
    method_call,
    positional,
    quote_call,
    replace,
)
from devlint.rules.base import UNSAFE, Fix, Report, Rule

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
        "rather than to the device of its inputs."
    )
    fix = (
        "Choose the device once, with a fallback, and pass it around: "
        f"`{_DEVICE_VAR}`; inside helpers, use the input's device (`x.device`)."
    )
    fix_summary = 'a literal accelerator gets a CPU fallback: `("cuda" if torch.cuda.is_available() else "cpu")`; `x.cuda()` becomes `x.to("cuda" if torch.cuda.is_available() else "cpu")`'
    fix_applicability = 'unsafe'
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
            elif h.form == "option_default":
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
            if h.form == "literal" and isinstance(h.node, cst.SimpleString):
                literal = string_value(h.node) or ""
                fallback = fallback_device(literal)
                if fallback is not None:
                    new = expression(f"({fallback})")
                    if new is not None:
                        fix = replace(UNSAFE, f"fall back to the CPU: `{fallback}`", h.node, new)
            yield self.report(h.node, msg, help_, fix=fix)


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
