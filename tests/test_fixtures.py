"""Every fixture yields exactly its declared findings: nothing missed, nothing extra."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from devlint.checker import check_file
from devlint.rules import ALL_RULES
from tests.fixture_expectations import expectations, fixture_files

BUGGY = fixture_files("buggy")
CLEAN = fixture_files("clean")


def _found(path: Path) -> set[tuple[str, int]]:
    return {(f.code, f.line) for f in check_file(path, ALL_RULES)}


@pytest.mark.parametrize("path", BUGGY, ids=lambda p: p.name)
def test_buggy_fixture_exact_findings(path: Path) -> None:
    expected = expectations(path)
    assert expected, f"{path.name} declares no `# expect:` line"
    found = _found(path)
    assert sorted(found - expected) == [], "unexpected findings"
    assert sorted(expected - found) == [], "missed findings"


@pytest.mark.parametrize("path", CLEAN, ids=lambda p: p.name)
def test_clean_fixture_is_silent(path: Path) -> None:
    assert expectations(path) == set(), "clean fixtures carry no expectations"
    assert sorted(_found(path)) == []


def _prefix_code(path: Path) -> str:
    m = re.match(r"dl(\d{3})_", path.name)
    assert m, f"fixture {path.name} must be named dlNNN_<what>.py"
    return f"DL{m.group(1)}"


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_every_rule_has_four_buggy_and_four_clean_fixtures(rule) -> None:
    buggy = Counter(code for p in BUGGY for code in {c for c, _ in expectations(p)})
    clean = Counter(_prefix_code(p) for p in CLEAN)
    assert buggy[rule.code] >= 4, f"{rule.code}: {buggy[rule.code]} buggy fixtures"
    assert clean[rule.code] >= 4, f"{rule.code}: {clean[rule.code]} clean fixtures"
