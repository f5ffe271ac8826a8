"""Rules that devlint checks outside the engine, with the same metadata as engine rules.

DL100 `unused-suppression` is found by the suppression layer (`devlint.suppression`),
which sees every `# noqa` comment and every finding it hid.  It is registered in
`devlint.rules.META_RULES`, so `--select`/`--extend-select`, `devlint rules`,
`devlint rule DL100`, SARIF rule descriptors and docs/rules.md treat it like any rule.

This module must not import `devlint.rules` (which imports it): the class is duck-typed
to `devlint.rules.base.Rule`.
"""

from __future__ import annotations

from typing import Any, ClassVar, Iterator


class UnusedSuppression:
    code: ClassVar[str] = "DL100"
    name: ClassVar[str] = "unused-suppression"
    summary: ClassVar[str] = (
        "A `# noqa` or `# devlint: ignore[...]` comment for a devlint code that suppresses nothing."
    )
    why: ClassVar[str] = (
        "This is not a run-time failure: a stale suppression hides nothing today, but it will "
        "silently hide a real device bug that a later edit introduces on that line, so the "
        "program can again crash with `Expected all tensors to be on the same device` on the "
        "first GPU machine without devlint saying a word."
    )
    fix: ClassVar[str] = (
        "Remove the unused code from the comment (or the whole comment). The rule is off by "
        'default; enable it with `--extend-select DL100` or `extend-select = ["DL100"]`.'
    )
    bad: ClassVar[str] = "x = torch.zeros(3)  # noqa: DL004\n"
    good: ClassVar[str] = "x = torch.zeros(3)\n"
    severity: ClassVar[str] = "warning"
    default_enabled: ClassVar[bool] = False

    def check(self, facts: Any) -> Iterator[Any]:
        """Nothing to do on engine facts: `devlint.suppression` reports DL100."""
        return iter(())


UNUSED_SUPPRESSION = UnusedSuppression()
META_RULES = (UNUSED_SUPPRESSION,)
