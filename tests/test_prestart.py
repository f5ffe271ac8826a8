"""Workers started before the command line loads (`launch`, `prestart`): the same
output as without them, the command line never loading LibCST, and a worker that dies
turning into an error for its files, never a hang."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from devlint import prestart, runner
from devlint.launch import workers_wanted
from devlint.rules import ALL_RULES

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
LINUX = sys.platform.startswith("linux")


@pytest.mark.parametrize(
    ("argv", "wanted"),
    [
        (["src/"], None),
        (["check", "src/", "--select", "ALL"], None),
        (["-j", "3", "."], 3),
        (["--jobs=4", "."], 4),
        (["-j2", "."], 2),
        (["--jobs", "1", "."], 0),
        (["rules"], 0),
        (["confirm", "--", "python", "x.py"], 0),
        (["server"], 0),
        (["--watch", "."], 0),
        (["--diff", "."], 0),
        (["-", "--stdin-filename", "x.py"], 0),
        (["--stdin-filename=x.py", "-"], 0),
        (["--version"], 0),
        (["--jobs", "many", "."], 0),
    ],
)
def test_which_runs_start_workers_early(
    argv: list[str], wanted: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DEVLINT_CACHE_DIR", str(tmp_path / "no-cache-yet"))
    cores = os.cpu_count() or 1
    expected = (cores if cores > 1 else 0) if wanted is None else wanted
    assert workers_wanted(argv) == expected


def test_not_where_the_cache_may_answer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A warm run is mostly answered by the cache: the fork would cost it more than the
    workers save."""
    monkeypatch.delenv("DEVLINT_CACHE_DIR", raising=False)
    if any((p / ".devlint_cache").is_dir() for p in tmp_path.parents):
        pytest.skip("a cache folder above the temporary folder")
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    monkeypatch.chdir(project / "src")
    early = workers_wanted(["-j", "2", "."])
    assert early == 2
    (project / ".devlint_cache").mkdir()  # found from a folder below it
    assert workers_wanted(["-j", "2", "."]) == 0
    assert workers_wanted(["-j", "2", "--no-cache", "."]) == 2
    monkeypatch.chdir(tmp_path)
    assert workers_wanted(["-j", "2", str(project / "src")]) == 0  # above a named path
    assert workers_wanted(["-j", "2", "--cache-dir", str(tmp_path / "none"), "."]) == 2
    monkeypatch.setenv("DEVLINT_CACHE_DIR", str(project / ".devlint_cache"))
    assert workers_wanted(["-j", "2", "."]) == 0


def _python(args: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )


def _devlint(args: list[str], **env: str) -> subprocess.CompletedProcess:
    return _python(["-m", "devlint", *args], **env)


@pytest.mark.skipif(not LINUX, reason="workers start early only where they can fork")
def test_prestarted_workers_give_the_same_output(tmp_path: Path) -> None:
    args = ["--no-cache", "-j", "2", "--output-format", "json", str(FIXTURES / "buggy")]
    early = _devlint(args)
    late = _devlint(args, DEVLINT_NO_PRESTART="1")
    assert early.returncode == late.returncode == 1
    assert early.stdout == late.stdout and '"DL005"' in early.stdout
    assert early.stderr == late.stderr == ""


@pytest.mark.skipif(not LINUX, reason="workers start early only where they can fork")
def test_the_command_line_never_loads_libcst_itself(tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "from devlint.launch import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    print('LIBCST' if 'libcst' in sys.modules else 'NO LIBCST', file=sys.stderr)\n"
    )
    target = str(FIXTURES / "buggy" / "dl001_build_model_not_moved.py")
    done = _python(["-c", probe, "--no-cache", "-j", "2", target])
    assert "DL001" in done.stdout
    assert done.stderr.strip() == "NO LIBCST"


@pytest.mark.skipif(not LINUX, reason="workers start early only where they can fork")
def test_a_dead_worker_is_an_error_for_its_files_not_a_hang(tmp_path: Path) -> None:
    script = (
        "import os, signal, sys, time\n"
        "from pathlib import Path\n"
        "from devlint import prestart, runner\n"
        "prestart.start(2)\n"
        "pool = prestart.take(0)\n"
        "time.sleep(1.5)\n"
        "os.kill(pool.pid, signal.SIGKILL)\n"
        "jobs = [runner.Job(Path(p), p) for p in sys.argv[1:]]\n"
        "answers = list(pool.map([[j] for j in jobs], ['DL001'], {}))\n"
        "died = sum(isinstance(a, prestart.WorkerDied) for a in answers)\n"
        "print(len(answers), died, len(jobs))\n"
        "pool.close()\n"
    )
    files = [str(p) for p in sorted((FIXTURES / "buggy").glob("dl001*.py"))][:6]
    done = _python(["-c", script, *files])
    answered, died, asked = map(int, done.stdout.split())
    assert answered == asked == len(files)
    assert died < answered  # the second worker (the first one's child) carried on


def test_the_runner_reports_the_files_of_a_dead_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    class Gone:
        count = 2

        def map(self, chunks: list, codes: list, options: dict) -> list:
            return [prestart.WorkerDied() for _ in chunks]

        def close(self) -> None:
            pass

    monkeypatch.setattr(prestart, "take", lambda workers: Gone())
    jobs = [runner.Job(p, p.name) for p in sorted((FIXTURES / "buggy").glob("dl00[12]*.py"))]
    result = runner.run(jobs, ALL_RULES, workers=0)
    assert result.findings == []
    assert sorted(path for path, _ in result.errors) == sorted(j.display for j in jobs)
    assert all(message == runner.WORKER_DIED for _, message in result.errors)
