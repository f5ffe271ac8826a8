"""DL005 factory-without-device."""

from __future__ import annotations

import re
from typing import Iterator, Optional

import libcst as cst

from devlint.engine.facts import Cause, FileFacts, Mismatch
from devlint.engine.names import RANDOM_FACTORIES
from devlint.engine.values import describe_device
from devlint.rules._fixes import device_expression, fix_device, replace, with_keyword
from devlint.rules._mismatch import SAME_DEVICE_ERROR
from devlint.rules.base import SAFE, UNSAFE, Fix, Report, Rule

LEGACY = re.compile(r"^(torch\.)?[A-Z]\w*Tensor\(")


class FactoryWithoutDevice(Rule):
    code = "DL005"
    name = "factory-without-device"
    summary = (
        "A tensor factory without `device=` is combined with tensors that may be on an accelerator."
    )
    why = (
        "`torch.zeros`, `torch.arange`, `torch.tensor`, `torch.randn`... create tensors on the CPU "
        "unless given `device=` (and `torch.from_numpy` always does). Combined with a model's "
        "inputs or parameters, or with a function's tensor arguments, such code only works for "
        f"CPU callers: on a GPU it raises {SAME_DEVICE_ERROR}. This is the most common device "
        "bug in library code."
    )
    fix = (
        "Create the tensor where its partner lives: `device=x.device` (or `x.new_zeros(...)`, "
        "`torch.zeros_like(x)`); for `from_numpy`, `torch.as_tensor(a, device=x.device)`."
    )
    fix_summary = 'add `device=<partner>.device`; `torch.from_numpy(a)` becomes `torch.as_tensor(a, device=...)`'
    fix_applicability = 'safe for deterministic factories, unsafe for random ones'
    bad = "def add_position(x):\n    pos = torch.arange(x.size(-1))\n    return x + pos\n"
    good = (
        "def add_position(x):\n"
        "    pos = torch.arange(x.size(-1), device=x.device)\n"
        "    return x + pos\n"
    )

    def check(self, facts: FileFacts) -> Iterator[Report]:
        seen: set[int] = set()
        for m in facts.mismatches:
            if m.cause is not Cause.FACTORY or m.culprit.value.site is None:
                continue
            site = m.culprit.value.site
            if id(site) in seen:
                continue
            seen.add(id(site))
            factory = facts.text(site)
            # name the partner's device; for a module's own device, point at its input
            dev = device_expression(m) or "x.device"
            where = describe_device(m.partner.value.device)
            if LEGACY.match(factory):
                msg = (
                    f"`{factory}` is a legacy constructor: it always creates a CPU tensor (it "
                    f"rejects accelerator devices), here combined with `{m.partner.text}` on "
                    f"{where}; it raises {SAME_DEVICE_ERROR} whenever that tensor is on an accelerator"
                )
                help_ = f"use a factory with a device: `torch.empty(..., device={dev})`"
            else:
                msg = (
                    f"`{factory}` creates a CPU tensor (no `device=`) that is combined with "
                    f"`{m.partner.text}` on {where}; it raises {SAME_DEVICE_ERROR} whenever that "
                    "tensor is on an accelerator"
                )
                if factory.startswith("torch.from_numpy"):
                    help_ = f"use `torch.as_tensor(..., device={dev})`"
                else:
                    help_ = f"pass `device={dev}`"
            if device_expression(m) is None:
                help_ = (
                    "pass `device=` the device of the module's input "
                    "(for an input `x`: `device=x.device`)"
                )
            yield self.report(site, msg, help_, fix=self.autofix(facts, m, site))

    def autofix(self, facts: FileFacts, m: Mismatch, site: cst.CSTNode) -> Optional[Fix]:
        """Add `device=<partner's device>` where the partner is visible from the factory;
        `torch.from_numpy(a)` becomes `torch.as_tensor(a, device=...)`.  Safe for
        deterministic factories; unsafe for random ones (another device draws other numbers)."""
        dev = fix_device(facts, m, site)
        if dev is None or not m.same_scope or not isinstance(site, cst.Call):
            return None
        func = site.func
        if not isinstance(func, cst.Attribute) or LEGACY.match(facts.text(site)):
            return None
        name = func.attr.value
        applicability = UNSAFE if name in RANDOM_FACTORIES else SAFE
        if name == "from_numpy":
            fixed = with_keyword(site, "device", dev, rename="as_tensor")
            title = f"use `torch.as_tensor(..., device={dev})`"
        else:
            fixed = with_keyword(site, "device", dev)
            title = f"add `device={dev}`"
        return replace(applicability, title, site, fixed) if fixed else None
