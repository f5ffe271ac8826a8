"""The rule registry: every rule, in code order, and selection by code prefix."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Iterable, Sequence

from devlint.findings import SYNTAX_ERROR
from devlint.meta_rules import META_RULES as _META_RULES
from devlint.rules.base import Report, Rule

if TYPE_CHECKING:
    ALL_RULES: list[Rule]
    RULES_BY_CODE: dict[str, Rule]

__all__ = [
    "ALL_RULES",
    "ENGINE_CODES",
    "META_RULES",
    "OFF_BY_DEFAULT",
    "RULES_BY_CODE",
    "RULE_DEFAULTS",
    "SYNTAX_ERROR",
    "Report",
    "Rule",
    "rules_for",
    "select_rules",
]


# The engine rules by code: module and class.  Selection, configuration and cached runs
# need only the codes, so the rule modules (and the engine, which they import) load on first
# use of `ALL_RULES` or `RULES_BY_CODE`: a run answered from the cache never loads them.
_ENGINE_RULES: dict[str, tuple[str, str]] = {
    "DL001": ("dl001", "ModuleInputDeviceMismatch"),
    "DL002": ("dl002", "HardcodedAccelerator"),
    "DL003": ("dl003", "BatchNotMovedInLoop"),
    "DL004": ("dl004", "DiscardedTensorMove"),
    "DL005": ("dl005", "FactoryWithoutDevice"),
    "DL006": ("dl006", "TensorAttributeNotRegistered"),
    "DL007": ("dl007", "NumpyOnAccelerator"),
    "DL008": ("dl008", "LoadWithoutMapLocation"),
    "DL009": ("dl009", "MixedDeviceOperation"),
}
ENGINE_CODES: tuple[str, ...] = tuple(_ENGINE_RULES)
# Engine rules that are off by default (each says why in its `default_off_reason`): DL008,
# whose audited findings on real code were 63% false (issue 13, benchmarks/audit.md).
# `--extend-select`, `extend-select = [...]` or `--select ALL` turn them on.
OFF_BY_DEFAULT: frozenset[str] = frozenset({"DL008"})
# Rules checked outside the engine (DL100 by the suppression layer): selectable and
# documented like the others, but not in ALL_RULES, since they have no engine check.
META_RULES: list[Rule] = list(_META_RULES)  # type: ignore[arg-type]
# (code, on by default) for every selectable rule, without loading the engine rules
RULE_DEFAULTS: tuple[tuple[str, bool], ...] = (
    *((code, code not in OFF_BY_DEFAULT) for code in ENGINE_CODES),
    *((rule.code, rule.default_enabled) for rule in META_RULES),
)
KNOWN_CODES: frozenset[str] = frozenset(
    [*ENGINE_CODES, SYNTAX_ERROR[0], *(rule.code for rule in META_RULES)]
)
_loaded: dict[str, Rule] = {}


def _load() -> dict[str, Rule]:
    if not _loaded:
        for code, (module, cls) in _ENGINE_RULES.items():
            rule = getattr(importlib.import_module(f"devlint.rules.{module}"), cls)()
            assert rule.code == code, (code, rule.code)
            assert rule.default_enabled == (code not in OFF_BY_DEFAULT), code
            _loaded[code] = rule
    return _loaded


def __getattr__(name: str) -> object:
    """`ALL_RULES` (in code order) and `RULES_BY_CODE`, loaded on first use (PEP 562)."""
    if name == "ALL_RULES":
        return list(_load().values())
    if name == "RULES_BY_CODE":
        return dict(_load())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def rules_for(codes: Iterable[str]) -> list[Rule]:
    """The rules with these codes, engine rules then meta rules, in code order."""
    wanted = set(codes)
    engine = (
        [rule for code, rule in _load().items() if code in wanted]
        if wanted & set(ENGINE_CODES)
        else []
    )
    return [*engine, *(rule for rule in META_RULES if rule.code in wanted)]


def _matches(code: str, selectors: Iterable[str]) -> bool:
    """ruff-style prefix selection: `DL` selects all, `DL00` the first ten, `ALL` everything."""
    return any(sel == "ALL" or code.startswith(sel) for sel in selectors)


def select_rules(
    select: Sequence[str] | None = None,
    ignore: Sequence[str] = (),
    extend_select: Sequence[str] = (),
) -> list[Rule]:
    """The rules a run enables.  `select=None` means the defaults."""
    chosen = []
    for rule in [*_load().values(), *META_RULES]:
        if select is None:
            on = rule.default_enabled or _matches(rule.code, extend_select)
        else:
            on = _matches(rule.code, [*select, *extend_select])
        if on and not _matches(rule.code, ignore):
            chosen.append(rule)
    return chosen


def is_valid_selector(selector: str) -> bool:
    """A selector is valid when it is `ALL` or a prefix of at least one known code."""
    return selector == "ALL" or any(code.startswith(selector) for code in KNOWN_CODES)
