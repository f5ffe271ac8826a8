"""Many files: the same output whatever the worker count and cache state."""

from __future__ import annotations

from pathlib import Path

import pytest

from devlint import runner
from devlint.cache import Cache, options_key
from devlint.rules import ALL_RULES

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def _jobs() -> list[runner.Job]:
    paths = sorted(FIXTURES.rglob("*.py"))
    return [runner.Job(p, str(p.relative_to(FIXTURES))) for p in paths]


def _cache(root: Path) -> Cache:
    return Cache(root, options_key([r.code for r in ALL_RULES], {}))


def _as_tuples(result: runner.RunResult) -> list[tuple]:
    return [(f.path, f.line, f.col, f.code, f.message, str(f.fix)) for f in result.findings]


def test_output_is_identical_across_jobs_and_cache_states(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "PARALLEL_MIN_BYTES", 0)
    serial = runner.run(_jobs(), ALL_RULES, workers=1)
    assert serial.findings and not serial.errors
    parallel = runner.run(_jobs(), ALL_RULES, workers=2)
    cold_cache = _cache(tmp_path / "c")
    cold = runner.run(_jobs(), ALL_RULES, workers=2, cache=cold_cache)
    warm_cache = _cache(tmp_path / "c")
    warm = runner.run(_jobs(), ALL_RULES, workers=1, cache=warm_cache)
    expected = _as_tuples(serial)
    assert _as_tuples(parallel) == expected
    assert _as_tuples(cold) == expected
    assert _as_tuples(warm) == expected
    assert warm_cache.hits == len(_jobs()) and warm_cache.misses == 0


def test_cache_folder_is_tagged_and_ignored(tmp_path: Path) -> None:
    root = tmp_path / ".devlint_cache"
    runner.run(_jobs()[:3], ALL_RULES, workers=1, cache=_cache(root))
    assert (
        (root / "CACHEDIR.TAG")
        .read_text()
        .startswith("Signature: 8a477f597d28d172789f06886806bc55")
    )
    assert (root / ".gitignore").read_text().strip().endswith("*")


def test_corrupted_entries_are_ignored_and_rewritten(tmp_path: Path) -> None:
    root = tmp_path / "c"
    jobs = [j for j in _jobs() if j.path.name.startswith("dl003_dict")]
    first = runner.run(jobs, ALL_RULES, workers=1, cache=_cache(root))
    for entry in root.rglob("*.json"):
        entry.write_text("{not json")
    cache = _cache(root)
    again = runner.run(jobs, ALL_RULES, workers=1, cache=cache)
    assert _as_tuples(again) == _as_tuples(first)
    assert cache.hits == 0 and cache.misses == len(jobs)
    assert _cache(root).get(cache.key(jobs[0].path.read_bytes()), jobs[0].display) is not None


def test_cache_key_changes_with_content_and_options(tmp_path: Path) -> None:
    a = Cache(tmp_path, options_key(["DL001"], {}))
    b = Cache(tmp_path, options_key(["DL001", "DL002"], {}))
    assert a.key(b"x") != a.key(b"y")
    assert a.key(b"x") != b.key(b"x")


def test_an_engine_crash_in_one_file_is_an_error_not_a_stop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = tmp_path / "good.py"
    bad = tmp_path / "bad.py"
    good.write_text("import torch\nx = torch.load('a.pt')\n")
    bad.write_text("import torch\n")
    real = runner.check_source

    def flaky(data, display, rules, **kw):
        if display == "bad.py":
            raise RuntimeError("boom")
        return real(data, display, rules, **kw)

    monkeypatch.setattr(runner, "check_source", flaky)
    result = runner.run(
        [runner.Job(good, "good.py"), runner.Job(bad, "bad.py")], ALL_RULES, workers=1
    )
    assert [f.code for f in result.findings] == ["DL008"]
    assert result.errors == [("bad.py", "RuntimeError: boom")]
