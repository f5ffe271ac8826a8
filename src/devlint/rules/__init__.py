"""The rule registry: every rule, in code order, and selection by code prefix."""

from __future__ import annotations

from typing import Iterable, Sequence

from devlint.rules.base import Report, Rule

__all__ = [
    "ALL_RULES",
    "META_RULES",
    "RULES_BY_CODE",
    "SYNTAX_ERROR",
    "Report",
    "Rule",
    "select_rules",
]

# DL000 is not a Rule subclass: the checker emits it when a file cannot be read or parsed.
SYNTAX_ERROR = ("DL000", "syntax-error")


def _load() -> list[Rule]:
    from devlint.rules.dl001 import ModuleInputDeviceMismatch
    from devlint.rules.dl002 import HardcodedAccelerator
    from devlint.rules.dl003 import BatchNotMovedInLoop
    from devlint.rules.dl004 import DiscardedTensorMove
    from devlint.rules.dl005 import FactoryWithoutDevice
    from devlint.rules.dl006 import TensorAttributeNotRegistered
    from devlint.rules.dl007 import NumpyOnAccelerator
    from devlint.rules.dl008 import LoadWithoutMapLocation
    from devlint.rules.dl009 import MixedDeviceOperation

    classes = [
        ModuleInputDeviceMismatch,
        HardcodedAccelerator,
        BatchNotMovedInLoop,
        DiscardedTensorMove,
        FactoryWithoutDevice,
        TensorAttributeNotRegistered,
        NumpyOnAccelerator,
        LoadWithoutMapLocation,
        MixedDeviceOperation,
    ]
    return [cls() for cls in classes]


def _load_meta() -> list[Rule]:
    # Rules checked outside the engine (DL100 by the suppression layer): selectable and
    # documented like the others, but not in ALL_RULES, since they have no engine check.
    from devlint.meta_rules import META_RULES

    return list(META_RULES)  # type: ignore[arg-type]


ALL_RULES: list[Rule] = _load()
META_RULES: list[Rule] = _load_meta()
RULES_BY_CODE: dict[str, Rule] = {rule.code: rule for rule in ALL_RULES}
KNOWN_CODES: frozenset[str] = frozenset(
    [*RULES_BY_CODE, SYNTAX_ERROR[0], *(rule.code for rule in META_RULES)]
)


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
    for rule in [*ALL_RULES, *META_RULES]:
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
