"""Bad input never crashes the checker, never hangs, and gives the same answer twice."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from devlint.checker import check_source
from devlint.rules import ALL_RULES

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SAMPLES = sorted(FIXTURES.glob("*/*.py"))
# CPU seconds of this process (the analysis and its deep-recursion thread), not wall
# time: a busy machine (parallel test workers, a shared CI runner) slows the clock, not
# the work, and a hang or a blow-up still shows (a loaded CI run still measured 7.6 CPU
# seconds for `deep_operators`, 2 s alone: hence the margin)
PER_FILE_BUDGET_S = 15.0

BAD_INPUTS: dict[str, bytes] = {
    "null_byte": b"import torch\x00\n",
    "binary": bytes(range(256)) * 4,
    "latin1_without_cookie": "x = 'caf\u00e9'\n".encode("latin-1"),
    "latin1_with_cookie": "# -*- coding: latin-1 -*-\nx = 'caf\u00e9'\n".encode("latin-1"),
    "unknown_cookie": b"# -*- coding: klingon -*-\nx = 1\n",
    "utf8_bom": b"\xef\xbb\xbfimport torch\nx = torch.zeros(3, device='cuda')\n",
    "crlf": b"import torch\r\nx = torch.zeros(3, device='cuda')\r\n",
    "cr_only": b"import torch\rx = torch.zeros(3, device='cuda')\r",
    "tabs": b"import torch\nif True:\n\tx = torch.zeros(3, device='cuda')\n",
    "empty": b"",
    "only_comments": b"# a comment\n# another\n",
    "python2": b"print 'hello'\n",
    "incomplete": b"def f(:\n",
    "unterminated": b"x = '''\n",
    "deep_parens": b"x = " + b"(" * 1000 + b"1" + b")" * 1000 + b"\n",
    # 500 nested calls: more than Python's parser allows (200 nested brackets): DL000
    "deep_calls": b"import torch\nx = " + b"f(" * 500 + b"1" + b")" * 500 + b"\n",
    "deep_operators": b"import torch\nx = " + b" + ".join([b"torch.zeros(2)"] * 1500) + b"\n",
    "long_line": b"import torch\nx = [" + b", ".join([b"torch.zeros(1)"] * 5000) + b"]\n",
    "match": b"match x:\n    case [a, *b]:\n        pass\n    case {'k': v}:\n        pass\n",
    "walrus": b"import torch\nif (n := torch.zeros(3)) is not None:\n    print(n)\n",
    "pep695": b"def f[T](x: T) -> T:\n    return x\n\ntype Alias = list[int]\n",
    "fstring_312": b'x = f"{f"{f"{1}"}"}"\n',
    "stub": b"import torch\ndef f(x: torch.Tensor) -> torch.Tensor: ...\n",
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_gives_findings_not_exceptions(name: str) -> None:
    start = time.process_time()
    findings = check_source(BAD_INPUTS[name], f"{name}.py", ALL_RULES)
    assert time.process_time() - start < PER_FILE_BUDGET_S
    for f in findings:
        assert f.line >= 1 and f.col >= 1 and f.message
    # unparseable input gives exactly one DL000 diagnostic, never a crash
    assert sum(f.code == "DL000" for f in findings) <= 1


@pytest.mark.parametrize(
    "name",
    ["null_byte", "binary", "latin1_without_cookie", "python2", "incomplete", "unterminated"],
)
def test_broken_files_are_dl000(name: str) -> None:
    codes = [f.code for f in check_source(BAD_INPUTS[name], f"{name}.py", ALL_RULES)]
    assert codes == ["DL000"]


@pytest.mark.parametrize("name", ["utf8_bom", "crlf", "cr_only", "tabs"])
def test_encodings_and_line_endings_still_lint(name: str) -> None:
    findings = check_source(BAD_INPUTS[name], f"{name}.py", ALL_RULES)
    assert [(f.code, f.line) for f in findings] == [("DL002", 3 if name == "tabs" else 2)]


def _mutations(text: str, rng: random.Random, n: int) -> list[str]:
    lines = text.splitlines(keepends=True)
    out = []
    for _ in range(n):
        kind = rng.randrange(5)
        ls = list(lines)
        i, j = rng.randrange(len(ls)), rng.randrange(len(ls))
        if kind == 0:
            del ls[i]
        elif kind == 1:
            ls.insert(i, ls[j])
        elif kind == 2:
            ls[i], ls[j] = ls[j], ls[i]
        elif kind == 3:
            tokens = ls[i].split(" ")
            if len(tokens) > 1:
                del tokens[rng.randrange(len(tokens))]
            ls[i] = " ".join(tokens)
        else:
            pos = rng.randrange(len(ls[i]) + 1)
            ls[i] = (
                ls[i][:pos] + rng.choice(["(", ")", ":", ",", "[", ".", "'", "\\t"]) + ls[i][pos:]
            )
        out.append("".join(ls))
    return out


def test_mutated_fixtures_never_crash_or_hang() -> None:
    rng = random.Random(20261127)
    for path in SAMPLES[::6]:
        for mutant in _mutations(path.read_text(encoding="utf-8"), rng, 8):
            start = time.process_time()
            check_source(mutant, path.name, ALL_RULES)
            assert time.process_time() - start < PER_FILE_BUDGET_S


def test_same_input_same_output() -> None:
    for path in SAMPLES[:20]:
        data = path.read_bytes()
        first = check_source(data, path.name, ALL_RULES)
        second = check_source(data, path.name, ALL_RULES)
        assert [(f.code, f.line, f.col, f.message) for f in first] == [
            (f.code, f.line, f.col, f.message) for f in second
        ]


hypothesmith = pytest.importorskip("hypothesmith")
hypothesis = pytest.importorskip("hypothesis")


@hypothesis.settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
    derandomize=True,
)
@hypothesis.given(source=hypothesmith.from_grammar())
def test_generated_programs_never_crash(source: str) -> None:
    findings = check_source(source, "generated.py", ALL_RULES)
    assert all(f.line >= 1 for f in findings)
