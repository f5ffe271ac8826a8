"""DL005 factory-without-device."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator, Optional

import libcst as cst

from devlint.engine.facts import Cause, Context, FileFacts, Mismatch, one_line
from devlint.engine.names import RANDOM_FACTORIES
from devlint.engine.values import Kind, describe_device, param_names
from devlint.positions import positions_of
from devlint.rules._context import input_tensor, module_device
from devlint.rules._fixes import (
    LEGACY_DTYPES,
    device_expression,
    fix_device,
    legacy_replacement,
    replace,
    with_keyword,
)
from devlint.rules._mismatch import SAME_DEVICE_ERROR
from devlint.rules._scope import usable_device
from devlint.rules.base import SAFE, UNSAFE, Fix, Report, Rule

LEGACY = re.compile(r"^(torch\.)?([A-Z]\w*)?Tensor\(")


@dataclass(frozen=True)
class _Device:
    """Where the factory's tensor should be made, and how sure that is: `text` names the
    device at the factory (`x.device`, `device`); `exact` when it is the partner's device
    by construction (the fix is then as safe as the factory is deterministic); `source`
    says where it came from, for the help: "partner", "input" or "module"."""

    text: str
    exact: bool
    source: str
    input: str = ""


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
        "bug in library code. In library code (modules of a package, or the `library` "
        "setting) a public function's tensor parameters may come from any accelerator, so "
        "the finding needs no caller in sight; elsewhere it needs a sign that the partner "
        "is on an accelerator. A project that makes an accelerator the default device "
        "(`torch.set_default_device('cuda')` in its scripts or tests) may write files that "
        "never name a device: there the factories follow that default, like their partners, "
        "and only legacy constructors and `from_numpy` (which ignore it) are reported. "
        "A legacy constructor (`torch.FloatTensor(...)`) given an accelerator `device=` "
        "fails where it is made (`legacy constructor expects device type: cpu`): that is "
        "reported whatever its tensor meets. Several factories that meet their partner in "
        "one operation (`counts.scatter_add_(-1, idx, torch.ones(n))` on a CPU `counts`) "
        "make that operation fail once: one finding, at the first, names the others and "
        "its fix gives each of them `device=`. A function that returns such a tensor on one "
        "path and a tensor on its input's device on another (`if boxes.numel() == 0: return "
        "torch.zeros(0, 4)`) gives accelerator callers a CPU tensor on that path only, and "
        "their next operation with it fails: that is reported at the factory too."
    )
    fix = (
        "Create the tensor where its partner lives: `device=x.device` (or `x.new_zeros(...)`, "
        "`torch.zeros_like(x)`); for `from_numpy`, `torch.as_tensor(a, device=x.device)`."
    )
    fix_summary = (
        "add `device=<partner>.device` (in a module's method with no input tensor, the "
        "module's own device: `next(self.parameters()).device`); `torch.from_numpy(a)` becomes "
        "`torch.as_tensor(a, device=...)`; a legacy constructor becomes `torch.tensor(data, "
        "dtype=..., device=...)` or, for a size, `torch.empty(*size, dtype=..., device=...)`"
    )
    fix_applicability = (
        "safe for deterministic factories given the partner's own device; unsafe for random "
        "ones, for an input's or the module's device, and for a legacy constructor of a NumPy "
        "array (which shared its memory)"
    )
    bad = "def add_position(x):\n    pos = torch.arange(x.size(-1))\n    return x + pos\n"
    good = (
        "def add_position(x):\n"
        "    pos = torch.arange(x.size(-1), device=x.device)\n"
        "    return x + pos\n"
    )

    def check(self, facts: FileFacts) -> Iterator[Report]:
        seen: set[int] = set()
        others_of, named = _factories_by_operation(facts)
        for m in facts.mismatches:
            if m.cause is not Cause.FACTORY or m.culprit.value.site is None:
                continue
            site = m.culprit.value.site
            if id(site) in seen:
                continue
            seen.add(id(site))
            # other factories that meet the partner in the same operation: one failing
            # operation, one finding (at the first in the source), which names them and
            # fixes them all; a factory first in none of its operations is named by the
            # first of each
            if id(site) in named:
                continue
            others = others_of.get(id(site), [])
            factory = facts.text(site)
            where = describe_device(m.partner.value.device)
            device = self.device(facts, m, site)
            if LEGACY.match(factory):
                if _passes_device(site):
                    # `torch.FloatTensor(shape, device=device)`: on an accelerator the
                    # constructor itself fails, before anything is combined
                    msg = (
                        f"`{factory}` is a legacy constructor: it only creates CPU tensors, so "
                        "given an accelerator `device=` it raises `RuntimeError: legacy "
                        "constructor expects device type: cpu`; given the CPU, its tensor meets "
                        f"`{m.partner.text}` on {where}, which raises {SAME_DEVICE_ERROR} "
                        "whenever that tensor is on an accelerator"
                    )
                elif m.context is Context.RETURN:
                    msg = (
                        f"`{factory}` is a legacy constructor: it always creates a CPU tensor "
                        "(it rejects accelerator devices), here returned while another "
                        f"`return` gives `{m.partner.text}` on {where}: callers with "
                        "accelerator tensors get a CPU tensor on this path only, and "
                        f"combining it with theirs raises {SAME_DEVICE_ERROR}"
                    )
                else:
                    msg = (
                        f"`{factory}` is a legacy constructor: it always creates a CPU tensor "
                        f"(it rejects accelerator devices), here combined with "
                        f"`{m.partner.text}` on {where}; it raises {SAME_DEVICE_ERROR} whenever "
                        "that tensor is on an accelerator"
                    )
                dev = device.text if device else device_expression(m) or "..."
                help_ = self.legacy_help(facts, site, dev)
                yield self.report(site, msg, help_, fix=self.legacy_fix(facts, site, device))
                continue
            # a default standing in for an argument the caller left out (`mask=None`)
            fills = m.culprit.value.fills
            stands_for = f", what `{fills[1]}` is when the caller leaves it out," if fills else ""
            inside = f" in `{m.callee}`, which it is passed to," if m.callee else ""
            if m.context is Context.RETURN:
                msg = (
                    f"`{factory}` creates a CPU tensor (no `device=`) that the function "
                    f"returns, while another `return` gives `{m.partner.text}` on {where}: "
                    "callers with accelerator tensors get a CPU tensor on this path only, "
                    f"and combining it with theirs raises {SAME_DEVICE_ERROR}"
                )
            elif m.context is Context.LOSS_WEIGHT:
                msg = (
                    f"`{factory}` creates a CPU tensor (no `device=`){stands_for} that is the "
                    f"loss weight of `{m.op_text}`{inside.rstrip(',')}, whose input `{m.partner.text}` is on "
                    f"{where}; the loss raises {SAME_DEVICE_ERROR} whenever that input is on "
                    "an accelerator"
                )
            else:
                msg = (
                    f"`{factory}` creates a CPU tensor (no `device=`){stands_for} that is "
                    f"combined with `{m.partner.text}`{inside} on {where}; it raises "
                    f"{SAME_DEVICE_ERROR} whenever that tensor is on an accelerator"
                )
            if m.contract:
                msg += f" ({m.contract})"
            fix = self.autofix(facts, site, device)
            refs: dict[str, cst.CSTNode] = {}
            if others:
                other = others[0]
                more = f" and {len(others) - 1} more" if len(others) > 1 else ""
                verb = "meet" if more else "meets"
                msg += (
                    f"; `{facts.text(other)}` (line {{other_line}}){more} {verb} it in the "
                    f"same operation and {'need' if more else 'needs'} `device=` too"
                )
                refs["other_line"] = other
                fixes = [fix, *(self.autofix(facts, o, device) for o in others)]
                fix = _combined(fixes)
            help_ = self.help(facts, m, site, device, factory.startswith("torch.from_numpy"))
            yield self.report(site, msg, help_, fix=fix, covers=tuple(others), **refs)
        for legacy in facts.legacy_devices:
            if id(legacy.node) in seen:
                continue  # reported above, where its tensor meets another
            seen.add(id(legacy.node))
            factory = facts.text(legacy.node)
            msg = (
                f"`{factory}` is a legacy constructor: it only creates CPU tensors, so it "
                "raises `RuntimeError: legacy constructor expects device type: cpu` whenever "
                f"`{legacy.device_text}` is an accelerator"
            )
            device = _Device(legacy.device_text, exact=True, source="partner")
            help_ = self.legacy_help(facts, legacy.node, legacy.device_text)
            yield self.report(
                legacy.node, msg, help_, fix=self.legacy_fix(facts, legacy.node, device)
            )

    def device(self, facts: FileFacts, m: Mismatch, site: cst.CSTNode) -> Optional[_Device]:
        """The device to name at the factory, best first: the partner's device where the
        factory can name it (its device variable, `partner.device`); the device of an input
        tensor of the function the factory is in (a parameter the partner is computed from,
        or, in a module's method, one the body uses as a tensor); in a method of a module
        with parameters or buffers and no input tensor (an `init_hidden(self, batch_size)`),
        the module's own device."""
        dev = fix_device(facts, m, site)
        if dev is not None and m.same_scope:
            return _Device(dev, exact=True, source="partner")
        partner = m.partner.value.device
        follows_module = "sym:self" in partner
        params = param_names(partner)
        symbolic = bool(partner) and all(
            a == "sym:self" or a.startswith("sym:param:") for a in partner
        )
        name = input_tensor(facts, site, m.partner.node) if symbolic else None
        if name is not None and (follows_module or name in params):
            exact = m.same_scope and partner == frozenset({f"sym:param:{name}"})
            return _Device(f"{name}.device", exact=exact, source="input", input=name)
        if name is None and (
            follows_module or m.partner.value.kind is Kind.MODULE or not m.same_scope
        ):
            # the partner is the module, a module (`encoder(src, encoder.init_hidden(n))`)
            # or what a caller combines the method's result with: the module's own device
            own = module_device(facts, site)
            if own is not None:
                return _Device(own, exact=False, source="module")
        return None

    def help(
        self,
        facts: FileFacts,
        m: Mismatch,
        site: cst.CSTNode,
        device: Optional[_Device],
        from_numpy: bool,
    ) -> str:
        """`pass `device=...``, naming the device the fix would use, or what to look for."""
        if device is None:
            named = device_expression(m)
            if named is not None and usable_device(facts, named, site) is None:
                # the factory is in a helper that returns its tensor (`rotaryembeddings`):
                # the partner's device is not a name there
                return (
                    f"give the function that builds it a `device` argument for `device=`, "
                    f"and pass it `{named}` where the tensor meets `{m.partner.text}`"
                )
            if named is not None:
                return _pass(named, from_numpy)
            if "sym:self" in m.partner.value.device:
                return (
                    "pass `device=` the module's device: the `.device` of its input tensor, or "
                    "of one of its parameters or buffers"
                )
            return f"pass `device=` the device of `{m.partner.text}`"
        text = _pass(device.text, from_numpy)
        if device.source == "input" and not device.exact:
            return f"{text}: the input `{device.input}` is on the module's device"
        if device.source == "module":
            return f"{text}, the module's own device"
        return text

    @staticmethod
    def legacy_help(facts: FileFacts, site: cst.CSTNode, dev: str) -> str:
        """Name the factory that replaces the constructor: `torch.tensor(...)` for data,
        `torch.empty(...)` for a size, with the constructor's dtype, on `dev`."""
        rewritten = legacy_replacement(site, dev) if isinstance(site, cst.Call) else None
        if rewritten is not None:
            code = one_line(cst.Module([]).code_for_node(rewritten[0]))
            if len(code) > 90:
                head = code.split("(", 1)[0]
                keywords = code[
                    code.rfind("dtype=") if "dtype=" in code else code.rfind("device=") :
                ]
                code = f"{head}(..., {keywords}"
            return f"replace it with a factory that takes a device: `{code}`"
        name = facts.text(site).split("(", 1)[0].rsplit(".", 1)[-1]
        dtype = LEGACY_DTYPES.get(name) or "torch.get_default_dtype()"
        return (
            "replace it with a factory that takes a device: "
            f"`torch.tensor(data, dtype={dtype}, device={dev})` for data, "
            f"`torch.empty(*size, dtype={dtype}, device={dev})` for a size"
        )

    def legacy_fix(
        self, facts: FileFacts, site: cst.CSTNode, device: Optional[_Device]
    ) -> Optional[Fix]:
        """`torch.FloatTensor([1, 2])` -> `torch.tensor([1, 2], dtype=torch.float32,
        device=...)`; `torch.FloatTensor(2, 3)` -> `torch.empty(2, 3, dtype=...,
        device=...)`; none when the arguments do not say which (`torch.FloatTensor(n)`).
        Safe when the device is the partner's and the data is not a NumPy array (the
        constructor shares an array's memory, `torch.tensor` copies it)."""
        if device is None or not isinstance(site, cst.Call):
            return None
        rewritten = legacy_replacement(site, device.text)
        if rewritten is None:
            return None
        new, form = rewritten
        applicability = SAFE if device.exact and form != "array" else UNSAFE
        factory = "torch.empty" if form == "shape" else "torch.tensor"
        return replace(applicability, f"use `{factory}(..., device={device.text})`", site, new)

    def autofix(
        self, facts: FileFacts, site: cst.CSTNode, device: Optional[_Device]
    ) -> Optional[Fix]:
        """Add `device=<partner's device>` where the partner is visible from the factory;
        `torch.from_numpy(a)` becomes `torch.as_tensor(a, device=...)`.  Safe for
        deterministic factories; unsafe for random ones (another device draws other numbers)
        and for a device that is the module's or its input's rather than the partner's own."""
        if device is None or not isinstance(site, cst.Call):
            return None
        dev = device.text
        func = site.func
        if not isinstance(func, cst.Attribute) or LEGACY.match(facts.text(site)):
            return None
        name = func.attr.value
        applicability = UNSAFE if name in RANDOM_FACTORIES or not device.exact else SAFE
        if name == "from_numpy":
            fixed = with_keyword(site, "device", dev, rename="as_tensor")
            title = f"use `torch.as_tensor(..., device={dev})`"
        else:
            fixed = with_keyword(site, "device", dev)
            title = f"add `device={dev}`"
        return replace(applicability, title, site, fixed) if fixed else None


def _factories_by_operation(
    facts: FileFacts,
) -> tuple[dict[int, list[cst.CSTNode]], set[int]]:
    """Factories that meet their partner in one operation with others
    (`counts = torch.zeros(n); counts.scatter_add_(-1, value, torch.ones(value.shape))`
    is one failing operation with two factories in it): for the first of each such group
    in the source (by `id`), the others of all its groups; and the factories that are
    first in none of their operations, which those findings name instead."""
    out: dict[int, list[cst.CSTNode]] = {}
    for m in facts.mismatches:
        site = m.culprit.value.site
        if m.callee:
            # met inside a function it was passed to: each call of it is an operation of
            # its own (`scale(a, w)`, `scale(b, w)`), whatever node they share there
            continue
        if m.cause is Cause.FACTORY and site is not None:
            sites = out.setdefault(id(m.node), [])
            if all(s is not site for s in sites):
                sites.append(site)
    shared = [s for sites in out.values() if len(sites) > 1 for s in sites]
    if shared:
        # the finding goes to the first in the source (the analysis meets them in the
        # order it evaluates them)
        where = positions_of(facts.module, shared)
        for sites in out.values():
            if len(sites) > 1:
                sites.sort(key=lambda s: (where[id(s)].start.line, where[id(s)].start.column))
    others_of: dict[int, dict[int, cst.CSTNode]] = {}
    for sites in out.values():
        group = others_of.setdefault(id(sites[0]), {})
        group.update((id(o), o) for o in sites[1:])
    named = {id(s) for sites in out.values() for s in sites[1:]} - others_of.keys()
    return {k: list(v.values()) for k, v in others_of.items() if v}, named


def _combined(fixes: list[Optional[Fix]]) -> Optional[Fix]:
    """One fix of several factories' fixes, when every one of them has one: unsafe if any
    is, titled after the first."""
    if not fixes or any(f is None for f in fixes):
        return None
    done = [f for f in fixes if f is not None]
    applicability = UNSAFE if any(f.applicability == UNSAFE for f in done) else SAFE
    edits = tuple(e for f in done for e in f.edits)
    return Fix(applicability, done[0].title, edits)


def _pass(device: str, from_numpy: bool) -> str:
    if from_numpy:
        return f"use `torch.as_tensor(..., device={device})`"
    return f"pass `device={device}`"


def _passes_device(site: cst.CSTNode) -> bool:
    """The constructor call names a device (`device=device`): not the literal CPU."""
    if not isinstance(site, cst.Call):
        return False
    for arg in site.args:
        if arg.keyword is not None and arg.keyword.value == "device":
            value = arg.value
            return not (isinstance(value, cst.SimpleString) and value.value.strip("'\"") == "cpu")
    return False
