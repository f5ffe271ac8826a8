"""Many files: the same output whatever the worker count and cache state."""

from __future__ import annotations

from pathlib import Path

import pytest

from devlint import checker, runner
from devlint.cache import Cache, options_key
from devlint.rules import ALL_RULES
from tests.helpers import ANALYSIS_LOADED_PROBE

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
    key = cache.key(jobs[0].path.read_bytes(), runner.file_role(jobs[0], {}))
    assert _cache(root).get(key, jobs[0].display) is not None


def test_cache_key_changes_with_content_and_options(tmp_path: Path) -> None:
    a = Cache(tmp_path, options_key(["DL001"], {}))
    b = Cache(tmp_path, options_key(["DL001", "DL002"], {}))
    assert a.key(b"x") != a.key(b"y")
    # library code and scripts are analysed under different contracts
    assert a.key(b"x", "library") != a.key(b"x", "script")
    assert a.key(b"x") != b.key(b"x")


def test_an_engine_crash_in_one_file_is_an_error_not_a_stop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = tmp_path / "good.py"
    bad = tmp_path / "bad.py"
    good.write_text("import torch\nx = torch.zeros(3, device='cuda')\n")
    bad.write_text("import torch\n")
    real = checker.check_source

    def flaky(data, display, rules, **kw):
        if display == "bad.py":
            raise RuntimeError("boom")
        return real(data, display, rules, **kw)

    monkeypatch.setattr(checker, "check_source", flaky)
    result = runner.run(
        [runner.Job(good, "good.py"), runner.Job(bad, "bad.py")], ALL_RULES, workers=1
    )
    assert [f.code for f in result.findings] == ["DL002"]
    assert result.errors == [("bad.py", "RuntimeError: boom")]


def test_every_rule_module_is_registered() -> None:
    """The registry lists rules by code without importing them: it must not miss one."""
    from devlint import rules

    modules = sorted(p.stem for p in Path(rules.__file__).parent.glob("dl[0-9][0-9][0-9].py"))
    assert [rules._ENGINE_RULES[c][0] for c in rules.ENGINE_CODES] == modules
    assert [r.code for r in ALL_RULES] == list(rules.ENGINE_CODES)
    # the defaults the registry knows without loading the rules are the rules' own
    defaults = dict(rules.RULE_DEFAULTS)
    assert all(defaults[r.code] == r.default_enabled for r in [*ALL_RULES, *rules.META_RULES])
    assert sorted(code for code, on in defaults.items() if not on) == ["DL008", "DL100"]
    assert "DL008" not in [r.code for r in rules.select_rules()]


def test_a_run_the_cache_answers_never_loads_the_analysis(tmp_path: Path) -> None:
    """Nothing changed: devlint reads, hashes and prints; LibCST and the rules stay unloaded
    (their import alone costs more than the whole warm run)."""
    import subprocess
    import sys

    project = tmp_path / "p"
    project.mkdir()
    for path in sorted(FIXTURES.glob("buggy/dl00[12]*.py")):
        (project / path.name).write_bytes(path.read_bytes())
    args = [
        sys.executable,
        "-c",
        ANALYSIS_LOADED_PROBE,
        str(project),
        "--cache-dir",
        str(tmp_path / "c"),
    ]
    cold = subprocess.run(args, capture_output=True, text=True)
    warm = subprocess.run(args, capture_output=True, text=True)
    assert "LOADED ['devlint.rules.dl001'" in cold.stderr and "'libcst'" in cold.stderr
    assert "LOADED [] 1" in warm.stderr, warm.stderr
    assert warm.stdout == cold.stdout and "DL002" in warm.stdout


def test_findings_do_not_depend_on_string_hashing(tmp_path: Path) -> None:
    """Environments joined after a branch keep a fixed key order: the device variable a
    help text or fix names (`map_location=device`) once depended on set iteration, so on
    PYTHONHASHSEED."""
    import os
    import subprocess
    import sys

    program = tmp_path / "load.py"
    program.write_text(
        "import torch\n\n"
        'device = torch.device("cuda" if torch.cuda.is_available() else "cpu")\n'
        'inference_device = torch.device("cpu")\n'
        "for step in range(3):\n"
        "    if step:\n"
        "        last = step\n"
        'checkpoint = torch.load("model.pth", weights_only=True)\n'
    )
    outputs = set()
    for seed in range(8):
        env = dict(os.environ, PYTHONHASHSEED=str(seed))
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "devlint",
                str(program),
                "--no-cache",
                "--output-format",
                "json",
                "--exit-zero",
                "--extend-select",
                "DL008",
            ],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        outputs.add(done.stdout)
    assert len(outputs) == 1
    assert "map_location=device" in outputs.pop()


def test_workers_start_for_enough_source_and_then_serve_every_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    jobs = _jobs()[:3]
    monkeypatch.setattr(runner, "PARALLEL_MIN_BYTES", 10**9)
    with runner._Workers(2) as pool:
        assert not pool.worth_it(jobs)  # too little source to pay for starting workers
        monkeypatch.setattr(runner, "PARALLEL_MIN_BYTES", 0)
        assert pool.worth_it(jobs)
        list(pool.map([jobs[:1]], ["DL001"], {}))
        monkeypatch.setattr(runner, "PARALLEL_MIN_BYTES", 10**9)
        assert pool.worth_it(jobs)  # started: a small second pass uses them too
        assert not pool.worth_it(jobs[:1])
    assert pool.pool is None
    assert not runner._Workers(1).worth_it(jobs)
