"""docs/rules.md, `devlint rule` and SARIF help all come from the rule metadata."""

from __future__ import annotations

import re
from pathlib import Path

from devlint.docs import documented_rules, rules_markdown
from devlint.findings import Finding
from tests.helpers import run

REPO = Path(__file__).resolve().parents[1]
RULES_MD = REPO / "docs" / "rules.md"


def test_docs_rules_md_is_up_to_date() -> None:
    assert RULES_MD.read_text(encoding="utf-8") == rules_markdown(), (
        "docs/rules.md is stale: run `devlint rules --format markdown > docs/rules.md`"
    )


def test_the_generator_command_prints_the_page() -> None:
    assert run("rules", "--format", "markdown").stdout == rules_markdown()


def test_every_rule_has_a_section_with_the_anchor_finding_urls_use() -> None:
    text = RULES_MD.read_text(encoding="utf-8")
    for rule in documented_rules():
        anchor = rule.code.lower()
        assert f'<a id="{anchor}"></a>' in text
        assert f"## {rule.code} `{rule.name}`" in text
        assert " ".join(rule.why.split()) in text
        assert rule.bad.strip() in text and rule.good.strip() in text
        url = Finding(rule.code, rule.name, "", "", 1, 1, 1, 2).url
        assert url.endswith(f"docs/rules.md#{anchor}")


def test_table_lists_each_rule_once_in_code_order() -> None:
    codes = re.findall(r"^\| \[(DL\d{3})\]", RULES_MD.read_text(encoding="utf-8"), re.MULTILINE)
    assert codes == [r.code for r in documented_rules()]
    assert codes[0] == "DL000" and codes[-1] == "DL100"


def test_rule_command_for_every_documented_rule() -> None:
    for rule in documented_rules():
        result = run("rule", rule.code)
        assert result.exit_code == 0
        assert result.stdout.startswith(f"{rule.code} {rule.name}")


def test_dl100_examples_behave_as_documented() -> None:
    from devlint.checker import check_source
    from devlint.config import Selection, enabled_codes
    from devlint.meta_rules import UNUSED_SUPPRESSION as rule
    from devlint.rules import rules_for

    rules = rules_for(enabled_codes([Selection(extend_select=("DL100",))]))
    prelude = "import torch\n"
    assert [f.code for f in check_source(prelude + rule.bad, "bad.py", rules)] == ["DL100"]
    assert check_source(prelude + rule.good, "good.py", rules) == []


def test_readme_autofix_table_is_generated_from_the_rules() -> None:
    from devlint.docs import AUTOFIX_BEGIN, AUTOFIX_END, autofix_table

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    start = readme.index(AUTOFIX_BEGIN) + len(AUTOFIX_BEGIN) + 1
    end = readme.index(AUTOFIX_END)
    assert readme[start:end] == autofix_table() + "\n", (
        "README's autofix table is stale: regenerate it with devlint.docs.autofix_table()"
    )
