"""DL006 tensor-attribute-not-registered."""

from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst

from devlint.engine.facts import Cause, FileFacts
from devlint.rules._context import enclosing_method, module_moves
from devlint.rules._fixes import keyword_arg, method_call, positional, quote_call, replace
from devlint.rules._mismatch import SAME_DEVICE_ERROR
from devlint.rules.base import UNSAFE, Fix, Report, Rule


class TensorAttributeNotRegistered(Rule):
    code = "DL006"
    name = "tensor-attribute-not-registered"
    summary = "A tensor kept as a plain module attribute meets the module's inputs or parameters."
    why = (
        "`model.to(device)` moves parameters and registered buffers, not plain tensor attributes. "
        "A tensor stored as `self.mask = torch.ones(...)` in `__init__` stays on the CPU after the "
        f"model moves, and the first `forward` on a GPU raises {SAME_DEVICE_ERROR}."
    )
    fix = (
        "Register it: `self.register_buffer('mask', torch.ones(...), persistent=False)` "
        "(or make it an `nn.Parameter`), or move it at the use site (`self.mask.to(x.device)`)."
    )
    fix_summary = '`self.x = t` becomes `self.register_buffer("x", t, persistent=False)`'
    fix_applicability = "unsafe"
    bad = (
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.scale = torch.ones(10)\n"
        "    def forward(self, x):\n"
        "        return x * self.scale\n"
    )
    good = (
        "class Net(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.register_buffer('scale', torch.ones(10))\n"
        "    def forward(self, x):\n"
        "        return x * self.scale\n"
    )

    def check(self, facts: FileFacts) -> Iterator[Report]:
        seen: set[int] = set()
        for m in facts.mismatches:
            site = m.culprit.value.site
            if m.cause is not Cause.PLAIN_ATTR or site is None or id(site) in seen:
                continue
            seen.add(id(site))
            attr = facts.text(site)  # the `self.x` target of the __init__ assignment
            name = attr.split(".", 1)[-1]
            partner = m.partner.text
            mover = self.mover(facts, site)
            msg = (
                f"`{attr}` is a plain tensor attribute (set at line {{init_line}}), which "
                f"{mover} does not move; here it meets `{partner}`, which follows the "
                f"module's device, and raises {SAME_DEVICE_ERROR} once the model is on an accelerator"
            )
            help_ = (
                f'register it in `__init__`: `self.register_buffer("{name}", ..., persistent=False)`'
                f", or move it here: `{attr}.to({partner}.device)`"
            )
            fix = self.autofix(facts, site, name)
            yield self.report(m.node, msg, help_, fix=fix, init_line=site)

    def mover(self, facts: FileFacts, site: cst.CSTNode) -> str:
        """What moves the module, as the file writes it: the first move of an instance of
        the class (`net.to(dev)`, `Encoder().cuda()`), else a move of the class by name."""
        found = enclosing_method(facts, site)
        if found is None:
            return "moving the module (`.to(device)`)"
        cls = found[0]
        call = module_moves(facts, cls)
        if call is not None:
            return f"`{quote_call(facts, call)}`"
        return f"moving a `{cls.name.value}` (`.to(device)`)"

    def autofix(self, facts: FileFacts, site: cst.CSTNode, name: str) -> Optional[Fix]:
        """`self.x = t` -> `self.register_buffer("x", t, persistent=False)`: unsafe, since a
        buffer also follows `.half()` and DDP broadcasts it."""
        assign = facts.assignments.get(id(site))
        if assign is None or not name.isidentifier():
            return None
        args = positional(cst.SimpleString(f'"{name}"'), assign.value, cst.Name("False"))
        args[-1] = keyword_arg("persistent", args[-1].value)
        register = method_call(cst.Name("self"), "register_buffer", args)
        return replace(
            UNSAFE, f"register `{name}` as a non-persistent buffer", assign, cst.Expr(register)
        )
