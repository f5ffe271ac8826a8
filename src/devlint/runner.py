"""Checking many files: the cache, worker processes, and a deterministic order.

Process start-up is not free on a 2-core machine, so small runs stay in this process;
larger ones are split into chunks of similar size (by bytes) over `jobs` workers.  The
output is sorted, so it is identical whatever `jobs` and the cache state.

What the cache answers is answered first, in this process, before any worker starts or
the analysis (the engine and the rules) is even imported: a run where nothing changed costs
reading and hashing the files.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

from devlint import checkpoints, prestart
from devlint.cache import Cache
from devlint.findings import Finding, syntax_finding
from devlint.project import Project, facts_digest, identify
from devlint.project import forget as project_forget
from devlint.roles import RolePatterns, detect_role
from devlint.rules import Rule, rules_for

# Below this many bytes of source in all, worker processes cost more than they save.
PARALLEL_MIN_BYTES = 400_000
# A notebook file may be this many times --max-file-size (its outputs are not parsed).
NOTEBOOK_RAW_FACTOR = 25
# what the files of a chunk get when the worker checking them ended without answering
WORKER_DIED = (
    "the worker process checking this file ended without an answer (killed? out of memory?)"
)


@dataclass
class Job:
    path: Path
    display: str
    role: Optional[str] = None  # `file_role`, once asked
    # what the project's other modules say about the names it imports (`devlint.project`)
    facts: tuple[tuple[str, str], ...] = ()


@dataclass
class RunResult:
    findings: list[Finding] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (display path, message)


@dataclass
class Analysed:
    """One analysis of one file: its findings, its summary (what importers learn from
    it) and the imported names it asked about; `keep`: whether the cache may hold it (a
    file skipped for its size or time is not: a later run with other limits retries)."""

    findings: list[Finding]
    summary: Optional[dict] = None
    asked: list[str] = field(default_factory=list)
    keep: bool = True


def _check_one(job: Job, rules: Sequence[Rule], options: dict) -> Analysed:
    try:
        data = job.path.read_bytes()
    except OSError as exc:
        finding = syntax_finding(job.display, 1, 1, f"cannot read file: {exc.strerror or exc}")
        return Analysed([finding], keep=False)
    role = file_role(job, options)
    timeout = options.get("file_timeout")
    max_bytes = options.get("max_file_bytes")
    notebook = job.path.suffix == ".ipynb"
    # A notebook's size is mostly its outputs (images): the limit applies to its code
    # (in the checker), and to the file only at NOTEBOOK_RAW_FACTOR times the limit.
    raw_limit = max_bytes * NOTEBOOK_RAW_FACTOR if max_bytes and notebook else max_bytes
    if raw_limit and len(data) > raw_limit:
        # LibCST's syntax tree takes about 220 bytes of memory per byte of source: a
        # generated 10 MB file would take gigabytes; it is reported, not analysed
        finding = syntax_finding(
            job.display,
            1,
            1,
            f"skipped: the file is {len(data) / 1e6:.1f} MB, over --max-file-size "
            f"({raw_limit / 1e6:g} MB); generated code?",
        )
        return Analysed([finding])
    analysis_options = {
        k: v for k, v in options.items() if k not in ("file_timeout", "max_file_bytes")
    }
    analysis_options["role"] = role
    analysis_options["package"] = "" if notebook else identify(str(job.path)).package
    analysis_options["project"] = job.facts
    if notebook and max_bytes:
        analysis_options["max_code_bytes"] = max_bytes
    from devlint.checker import check_source  # the analysis loads only when it is needed

    collect: dict = {}
    try:
        with time_limit(timeout):
            findings = check_source(data, job.display, rules, collect=collect, **analysis_options)
    except FileTimeout:
        # not cached: a later run with a larger budget should try again
        finding = syntax_finding(
            job.display,
            1,
            1,
            f"skipped: checking took longer than --file-timeout ({timeout:g} s)",
        )
        return Analysed([finding], keep=False)
    return Analysed(findings, collect.get("summary"), list(collect.get("asked", ())))


def file_role(job: Job, options: dict) -> str:
    """Library code or a script (`devlint.roles`): decided by the file's path and folder,
    so it is part of the cache key, not only the file's bytes.  Kept on the job: the
    cache lookup and the check of a changed file both need it."""
    if job.role is None:
        roles = options.get("roles")
        path = str(job.path)
        job.role = roles.role_for(path) if roles is not None else detect_role(path)
    return job.role


def tune_gc() -> None:
    """Collect cycles less often: LibCST builds about a hundred thousand objects per file,
    all freed by reference counting (its trees have no cycles), and the collector's passes
    over them cost a fifth of a run (pytorch/examples, one process: 1.01 s -> 0.83 s).
    What the imports made is frozen out of the collector's sight; cycles the analysis does
    make are still collected, every 50,000 allocations instead of every 700.  For the
    command line and its workers (short-lived processes), not for library callers."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


class FileTimeout(Exception):
    """A file took longer than its budget (`--file-timeout`)."""


@contextlib.contextmanager
def time_limit(seconds: Optional[float]) -> Iterator[None]:
    """Interrupt the block after `seconds` (SIGALRM: POSIX, main thread only; elsewhere no
    limit applies).  Used per file, so a pathological file cannot hang a whole run."""
    usable = (
        seconds
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise FileTimeout

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _check_many(
    jobs: list[Job],
    codes: Sequence[str],
    options: dict,
    on_file: Optional[Callable[[], None]] = None,
) -> tuple[list[Optional[Analysed]], list[tuple[str, str]]]:
    """Analyse `jobs` in order: one result per job (None where the engine failed)."""
    results: list[Optional[Analysed]] = []
    errors: list[tuple[str, str]] = []
    rules = rules_for(codes) if jobs else []
    for job in jobs:
        try:
            results.append(_check_one(job, rules, options))
        except Exception as exc:  # an engine bug in one file must not stop the run
            results.append(None)
            errors.append((job.display, f"{type(exc).__name__}: {exc}"))
        if on_file is not None:
            on_file()
    return results, errors


def _work(
    args: tuple[list[Job], list[str], dict],
) -> tuple[list[Optional[Analysed]], list[tuple[str, str]]]:
    """Entry point of a worker process: rules travel by code."""
    jobs, codes, options = args
    tune_gc()  # inherited under fork; spawned workers start afresh
    return _check_many(jobs, codes, options)


def _context(job: Job, options: dict, digest: str = "") -> str:
    """What besides its bytes decides a file's cache entry: its role, whether it belongs
    to a test suite, its package (relative imports) and the project facts it was
    analysed with."""
    notebook = job.path.suffix == ".ipynb"
    package = "" if notebook else identify(str(job.path)).package
    out = file_role(job, options)
    if not notebook and (options.get("roles") or RolePatterns()).in_test_suite(job.display):
        out += "\0tests"
    if package:
        out += f"\0{package}"
    if digest:
        out += f"\0{digest}"
    return out


def _load_analysis(codes: Sequence[str]) -> None:
    """Import the engine, the checker and the rules, then freeze what the imports made
    (`tune_gc`): the collector never walks those objects again, nor does the exit of
    this process (pytorch/examples, cold: 0.02 s less at the end of a run)."""
    rules_for(codes)
    import devlint.checker  # noqa: F401

    gc.freeze()


def _chunks(jobs: list[Job], pieces: int) -> list[list[Job]]:
    """About `pieces` chunks of similar total size, largest files first: a large file is a
    chunk of its own at the front, small files are batched at the end.  Workers take
    chunks in order, so the last chunks anyone takes are small and all workers finish at
    nearly the same time (pytorch/examples: 0.71 s -> 0.68 s against 8 balanced groups)."""
    sizes = {id(j): _size(j.path) for j in jobs}
    ordered = sorted(jobs, key=lambda j: (-sizes[id(j)], j.display))
    target = max(1, sum(sizes.values()) // max(1, pieces))
    chunks: list[list[Job]] = []
    current: list[Job] = []
    total = 0
    for job in ordered:
        current.append(job)
        total += sizes[id(job)]
        if total >= target:
            chunks.append(current)
            current, total = [], 0
    if current:
        chunks.append(current)
    return chunks


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def run(
    jobs: list[Job],
    rules: Sequence[Rule | str],
    *,
    workers: int = 0,
    cache: Optional[Cache] = None,
    options: Optional[dict[str, Any]] = None,
    on_progress: Optional[Callable[[int, int], None]] = None,
) -> RunResult:
    """Check every job with `rules` (Rule objects or codes); `workers`: 0 = one per core,
    1 = in this process.

    Two passes: every file the cache cannot answer is analysed on its own, leaving its
    summary and the imported names it asked about; then the project (`devlint.project`)
    resolves those names, and a file whose imports the project says something about is
    analysed again with those facts.  A warm run reads summaries and findings from the
    cache without loading the analysis."""
    options = options or {}
    codes = [r if isinstance(r, str) else r.code for r in rules]
    result = RunResult()
    total_jobs = len(jobs)
    done = [0]

    def tick(count: int = 1) -> None:
        done[0] += count
        if on_progress:
            on_progress(done[0], total_jobs)

    project_forget()
    with _Workers(workers) as pool:
        _run_passes(jobs, codes, options, cache, pool, result, tick)
    # what the checkpoint files that loads name hold: read after the cache, on every run
    result.findings = checkpoints.settle(result.findings)
    return result


def _run_passes(
    jobs: list[Job],
    codes: list[str],
    options: dict[str, Any],
    cache: Optional[Cache],
    pool: _Workers,
    result: RunResult,
    tick: Callable[..., None],
) -> None:
    """The two passes of `run`, sharing `pool`'s worker processes."""
    final: dict[int, list[Finding]] = {}
    summaries: dict[int, tuple[Optional[dict], list[str]]] = {}
    fresh: dict[int, Analysed] = {}
    data_of: dict[int, bytes] = {}
    first: list[int] = []
    for i, job in enumerate(jobs):
        entry = None
        if cache is not None:
            try:
                data_of[i] = job.path.read_bytes()
            except OSError:
                data_of[i] = b""
            entry = cache.get_raw(cache.key(data_of[i], _context(job, options) + "\0summary"))
        if isinstance(entry, dict) and "asked" in entry:
            summaries[i] = (entry.get("summary"), list(entry["asked"]))
        else:
            first.append(i)
            if cache is not None:
                cache.misses += 1
    # first pass: each file on its own
    analysed, errors = _analyse([jobs[i] for i in first], codes, pool, options, tick)
    result.errors.extend(errors)
    for i, outcome in zip(first, analysed):
        if outcome is None:
            final[i] = []
            continue
        fresh[i] = outcome
        summaries[i] = (outcome.summary, outcome.asked)
        if cache is not None and outcome.keep and i in data_of:
            entry_key = cache.key(data_of[i], _context(jobs[i], options) + "\0summary")
            cache.put_raw(entry_key, {"summary": outcome.summary, "asked": outcome.asked})
    # the project: what each file's imports say, and a second pass where they say something
    project = Project(
        {_abs(jobs[i].path): summaries[i][0] for i in summaries},
        lambda path: outside_summary(path, codes, cache, options, pool),
    )
    second: list[int] = []
    for i, job in enumerate(jobs):
        if i in final:
            continue
        asked = summaries[i][1]
        facts = project.facts_for(_abs(job.path), asked)
        digest = facts_digest(facts)
        if i in fresh and not facts:
            final[i] = fresh[i].findings
            if cache is not None and fresh[i].keep and i in data_of:
                cache.put(cache.key(data_of[i], _context(job, options)), final[i])
            continue
        if cache is not None and i not in fresh:
            hit = cache.get(cache.key(data_of[i], _context(job, options, digest)), job.display)
            if hit is not None:
                final[i] = hit
                tick()
                continue
        job.facts = facts
        second.append(i)
    analysed, errors = _analyse([jobs[i] for i in second], codes, pool, options, None)
    result.errors.extend(errors)
    for i, outcome in zip(second, analysed):
        final[i] = outcome.findings if outcome is not None else []
        if outcome is not None and outcome.keep and cache is not None:
            key = cache.key(data_of[i], _context(jobs[i], options, facts_digest(jobs[i].facts)))
            cache.put(key, final[i])
    tick(sum(1 for i in second if i not in fresh))
    for i in range(len(jobs)):
        result.findings.extend(final.get(i, ()))
    result.findings.sort(key=lambda f: f.sort_key)
    result.errors.sort()


def _abs(path: Path) -> str:
    return os.path.normpath(os.path.abspath(path))


class _Workers:
    """The worker processes of one run, started when a pass first needs them and kept
    for the second pass: a second pool would fork again, and without one the second
    pass (pytorch/examples: 12 files, 0.17 s) ran in this process alone."""

    def __init__(self, workers: int) -> None:
        self.count = workers or os.cpu_count() or 1
        self.pool: Optional[Any] = None
        # workers the command line started before it loaded (`prestart`): they have the
        # analysis loaded already, so any job goes to them, and this process never
        # loads it
        self.prestarted = prestart.take(workers) if self.count > 1 else None

    def __enter__(self) -> _Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown()
            self.pool = None
        if self.prestarted is not None:
            self.prestarted.close()
            self.prestarted = None

    def worth_it(self, jobs: list[Job]) -> bool:
        """Whether `jobs` go to worker processes: always to prestarted ones; else never
        for one job or one core; once the workers run, always; before, only for enough
        source to pay for starting them."""
        if self.prestarted is not None:
            return True
        if self.count <= 1 or len(jobs) < 2:
            return False
        return self.pool is not None or sum(_size(j.path) for j in jobs) >= PARALLEL_MIN_BYTES

    def map(self, chunks: list[list[Job]], codes: list[str], options: dict) -> Iterator[Any]:
        if self.prestarted is not None:
            return self.prestarted.map(chunks, codes, options)
        if self.pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            linux = sys.platform.startswith("linux")
            ctx = multiprocessing.get_context("fork") if linux else None
            self.pool = ProcessPoolExecutor(max_workers=self.count, mp_context=ctx)
        return self.pool.map(_work, [(c, codes, options) for c in chunks])


def _analyse(
    jobs: list[Job],
    codes: list[str],
    pool: _Workers,
    options: dict,
    on_file: Optional[Callable[[], None]],
) -> tuple[list[Optional[Analysed]], list[tuple[str, str]]]:
    """Analyse `jobs`, in this process or, for enough source, over worker processes."""
    if not jobs:
        return [], []
    if pool.prestarted is None:
        # load the analysis once here (forked workers share it instead of each importing
        # the engine and the rules), and freeze what the imports made
        _load_analysis(codes)
    if not pool.worth_it(jobs):
        return _check_many(jobs, codes, options, on_file)
    chunks = _chunks(jobs, min(pool.count, len(jobs)) * 16)
    by_job: dict[int, Optional[Analysed]] = {}
    errors: list[tuple[str, str]] = []
    # This process only waits: taking chunks here too measured slower on large runs
    # (6 repositories, 0.4M lines: 14.6-14.9 s against 13.5 s).
    for chunk, answer in zip(chunks, pool.map(chunks, codes, options)):
        if isinstance(answer, prestart.WorkerDied):
            answer = ([None] * len(chunk), [(j.display, WORKER_DIED) for j in chunk])
        found, errs = answer
        for job, outcome in zip(chunk, found):
            by_job[id(job)] = outcome
            if on_file is not None:
                on_file()
        errors.extend(errs)
    return [by_job[id(j)] for j in jobs], errors


def outside_summary(
    path: str,
    codes: list[str],
    cache: Optional[Cache],
    options: dict,
    pool: Optional[_Workers] = None,
) -> Optional[dict]:
    """The summary of a module the run does not check (another configuration's file,
    or a file not named: pre-commit passes only the staged ones): from the cache, or
    analysed (by a prestarted worker, which has the analysis loaded, else here), its
    findings set aside."""
    job = Job(Path(path), path)
    if cache is not None:
        try:
            data = job.path.read_bytes()
        except OSError:
            return None
        key = cache.key(data, _context(job, options) + "\0summary")
        entry = cache.get_raw(key)
        if isinstance(entry, dict) and "summary" in entry:
            return entry["summary"]
    if pool is not None and pool.prestarted is not None:
        (outcome,), _ = _analyse([job], codes, pool, options, None)
    else:
        (outcome,), _ = _check_many([job], codes, options)
    if outcome is None:
        return None
    if cache is not None and outcome.keep:
        cache.put_raw(key, {"summary": outcome.summary, "asked": outcome.asked})
    return outcome.summary
