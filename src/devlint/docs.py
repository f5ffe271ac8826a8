"""Rule documentation from the rule metadata: docs/rules.md, SARIF help, `devlint rule`.

Every rule object carries its code, name, summary, why it fails at run time, how to fix
it and a bad and a good example; this module words them once for every place that shows
them.  `devlint rules --format markdown > docs/rules.md` regenerates the docs page, and
a test fails when the committed page differs.
"""

from __future__ import annotations

from typing import Any, Sequence

SYNTAX_ERROR_SUMMARY = "The file cannot be read, decoded or parsed, so it was not analysed."
SYNTAX_ERROR_FIX = "Fix the file so Python can parse it; devlint then checks its device flow."
DOCS_URL = "https://github.com/devlint/devlint/blob/main/docs/rules.md"


class SyntaxErrorRule:
    """DL000 as a rule-like object, for listings, docs and SARIF descriptors."""

    code = "DL000"
    name = "syntax-error"
    summary = SYNTAX_ERROR_SUMMARY
    why = (
        "devlint could not read the file: it cannot be read, is not valid text in its "
        "encoding, or is a notebook that is not valid JSON; or it is not valid Python. Two "
        "parsers decide that last part. Python's compiler (of the Python running devlint; it "
        "compiles the file and runs nothing) rejects what would fail at import, and its "
        "message is reported (`syntax error: ...`). LibCST, whose syntax tree the analysis "
        "reads, must parse every file that can hold a device finding; a file it cannot parse "
        "(syntax newer than the installed LibCST knows) is reported as `LibCST cannot parse "
        "this file: ...`. Either way nothing in the file was checked, so it may hide device "
        "bugs."
    )
    fix = SYNTAX_ERROR_FIX
    bad = "x = )\n"
    good = "x = 1\n"
    severity = "error"
    default_enabled = True


SYNTAX_ERROR_RULE = SyntaxErrorRule()


def documented_rules() -> list[Any]:
    """DL000, the engine's rules, then the rules checked outside the engine (DL100)."""
    from devlint.rules import ALL_RULES, META_RULES

    return [SYNTAX_ERROR_RULE, *ALL_RULES, *META_RULES]


def url(code: str) -> str:
    return f"{DOCS_URL}#{code.lower()}"


def _oneline(text: str) -> str:
    return " ".join(text.split())


def how_to_enable(code: str) -> str:
    """How to turn on a rule that is off by default."""
    return f'`--extend-select {code}` or `extend-select = ["{code}"]` in `[tool.devlint]`'


def rule_markdown(rule: Any, heading: str = "") -> str:
    """The body of one rule's documentation in Markdown (SARIF `help.markdown`)."""
    parts = []
    if heading:
        parts.append(heading)
    off = (
        ""
        if rule.default_enabled
        else f" Off by default: enable it with {how_to_enable(rule.code)}."
    )
    parts.append(_oneline(rule.summary) + off)
    reason = getattr(rule, "default_off_reason", "")
    if reason:
        parts.append("**Why it is off by default.** " + _oneline(reason))
    parts.append("**Why it fails at run time.** " + _oneline(rule.why))
    parts.append("**How to fix it.** " + _oneline(rule.fix))
    parts.append("Reported:\n\n```python\n" + rule.bad.rstrip("\n") + "\n```")
    parts.append("Fixed:\n\n```python\n" + rule.good.rstrip("\n") + "\n```")
    return "\n\n".join(parts) + "\n"


def rule_text(rule: Any) -> str:
    """The same in plain text (SARIF `help.text`)."""
    off = (
        ""
        if rule.default_enabled
        else f" Off by default: enable it with {how_to_enable(rule.code)}."
    )
    reason = getattr(rule, "default_off_reason", "")
    if reason:
        off += f"\n\nWhy it is off by default: {_oneline(reason)}"
    indent_bad = "\n".join("    " + line for line in rule.bad.rstrip("\n").splitlines())
    indent_good = "\n".join("    " + line for line in rule.good.rstrip("\n").splitlines())
    return (
        f"{_oneline(rule.summary)}{off}\n\n"
        f"Why it fails at run time: {_oneline(rule.why)}\n\n"
        f"How to fix it: {_oneline(rule.fix)}\n\n"
        f"Reported:\n{indent_bad}\n\nFixed:\n{indent_good}\n"
    )


def rules_markdown(rules: Sequence[Any] | None = None) -> str:
    """The whole of docs/rules.md."""
    rules = list(rules) if rules is not None else documented_rules()
    out = [
        "# devlint rules",
        "",
        "<!-- Generated from the rule metadata by "
        "`devlint rules --format markdown > docs/rules.md`; do not edit by hand. -->",
        "",
        "| Code | Name | Summary |",
        "|------|------|---------|",
    ]
    for rule in rules:
        off = " (off by default)" if not rule.default_enabled else ""
        out.append(
            f"| [{rule.code}](#{rule.code.lower()}) | `{rule.name}` | "
            f"{_oneline(rule.summary)}{off} |"
        )
    out.append("")
    for rule in rules:
        out.append(f'<a id="{rule.code.lower()}"></a>')
        out.append("")
        out.append(rule_markdown(rule, heading=f"## {rule.code} `{rule.name}`"))
    return "\n".join(out).rstrip("\n") + "\n"


AUTOFIX_BEGIN = "<!-- autofix table: generated by devlint.docs.autofix_table -->"
AUTOFIX_END = "<!-- /autofix table -->"


def autofix_table() -> str:
    """The README's table of what `--fix` does per rule, from the rules' own metadata
    (`fix_summary`, `fix_applicability`), so it cannot drift from the fixer's docs;
    `tests/test_docs.py` fails when the README's copy is stale."""
    from devlint.rules import ALL_RULES

    lines = ["| rule | fix | applicability |", "|---|---|---|"]
    for rule in ALL_RULES:
        if rule.fix_summary:
            lines.append(f"| {rule.code} | {rule.fix_summary} | {rule.fix_applicability} |")
    return "\n".join(lines)
