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

from devlint.cache import Cache
from devlint.findings import Finding, syntax_finding
from devlint.roles import detect_role
from devlint.rules import Rule, rules_for

# Below this many bytes of source in all, worker processes cost more than they save.
PARALLEL_MIN_BYTES = 400_000
# A notebook file may be this many times --max-file-size (its outputs are not parsed).
NOTEBOOK_RAW_FACTOR = 25


@dataclass
class Job:
    path: Path
    display: str
    role: Optional[str] = None  # `file_role`, once asked


@dataclass
class RunResult:
    findings: list[Finding] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (display path, message)


def _check_one(
    job: Job, rules: Sequence[Rule], cache: Optional[Cache], options: dict
) -> list[Finding]:
    try:
        data = job.path.read_bytes()
    except OSError as exc:
        return [syntax_finding(job.display, 1, 1, f"cannot read file: {exc.strerror or exc}")]
    # the cache was asked before (`_from_cache`): this file is new or changed
    role = file_role(job, options)
    key = cache.key(data, role) if cache is not None else ""
    timeout = options.get("file_timeout")
    max_bytes = options.get("max_file_bytes")
    notebook = job.path.suffix == ".ipynb"
    # A notebook's size is mostly its outputs (images): the limit applies to its code
    # (in the checker), and to the file only at NOTEBOOK_RAW_FACTOR times the limit.
    raw_limit = max_bytes * NOTEBOOK_RAW_FACTOR if max_bytes and notebook else max_bytes
    if raw_limit and len(data) > raw_limit:
        # LibCST's syntax tree takes about 220 bytes of memory per byte of source: a
        # generated 10 MB file would take gigabytes; it is reported, not analysed
        return [
            syntax_finding(
                job.display,
                1,
                1,
                f"skipped: the file is {len(data) / 1e6:.1f} MB, over --max-file-size "
                f"({raw_limit / 1e6:g} MB); generated code?",
            )
        ]
    analysis_options = {
        k: v for k, v in options.items() if k not in ("file_timeout", "max_file_bytes")
    }
    analysis_options["role"] = role
    if notebook and max_bytes:
        analysis_options["max_code_bytes"] = max_bytes
    from devlint.checker import check_source  # the analysis loads only when it is needed

    try:
        with time_limit(timeout):
            findings = check_source(data, job.display, rules, **analysis_options)
    except FileTimeout:
        # not cached: a later run with a larger budget should try again
        return [
            syntax_finding(
                job.display,
                1,
                1,
                f"skipped: checking took longer than --file-timeout ({timeout:g} s)",
            )
        ]
    if cache is not None:
        cache.put(key, findings)
    return findings


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
    cache: Optional[Cache],
    options: dict,
    on_file: Optional[Callable[[], None]] = None,
) -> tuple[list[Finding], list[tuple[str, str]]]:
    findings: list[Finding] = []
    errors: list[tuple[str, str]] = []
    rules = rules_for(codes) if jobs else []
    for job in jobs:
        try:
            findings.extend(_check_one(job, rules, cache, options))
        except Exception as exc:  # an engine bug in one file must not stop the run
            errors.append((job.display, f"{type(exc).__name__}: {exc}"))
        if on_file is not None:
            on_file()
    return findings, errors


def _work(
    args: tuple[list[Job], list[str], Optional[Path], str, dict],
) -> tuple[list[Finding], list[tuple[str, str]]]:
    """Entry point of a worker process: rules travel by code, the cache by its folder."""
    jobs, codes, cache_root, cache_options, options = args
    tune_gc()  # inherited under fork; spawned workers start afresh
    cache = Cache(cache_root, cache_options) if cache_root is not None else None
    return _check_many(jobs, codes, cache, options)


def _load_analysis(codes: Sequence[str]) -> None:
    """Import the engine, the checker and the rules, then freeze what the imports made
    (`tune_gc`): the collector never walks those objects again, nor does the exit of
    this process (pytorch/examples, cold: 0.02 s less at the end of a run)."""
    rules_for(codes)
    import devlint.checker  # noqa: F401

    gc.freeze()


def _from_cache(jobs: list[Job], cache: Cache, options: dict) -> tuple[list[Finding], list[Job]]:
    """The findings the cache holds for `jobs`, and the jobs it cannot answer (changed,
    new or unreadable files: `_check_one` reports those)."""
    found: list[Finding] = []
    misses: list[Job] = []
    for job in jobs:
        try:
            data = job.path.read_bytes()
        except OSError:
            misses.append(job)
            continue
        cached = cache.get(cache.key(data, file_role(job, options)), job.display)
        if cached is None:
            misses.append(job)
        else:
            found.extend(cached)
    return found, misses


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
    1 = in this process."""
    options = options or {}
    codes = [r if isinstance(r, str) else r.code for r in rules]
    cache_root = cache.root if cache is not None else None
    cache_options = cache.options if cache is not None else ""
    result = RunResult()
    total_jobs = len(jobs)
    answered = 0
    if cache is not None:
        result.findings, jobs = _from_cache(jobs, cache, options)
        answered = total_jobs - len(jobs)
        if on_progress and answered:
            on_progress(answered, total_jobs)
    n = workers or os.cpu_count() or 1
    total_bytes = sum(_size(j.path) for j in jobs) if n > 1 else 0
    if n <= 1 or len(jobs) < 2 or total_bytes < PARALLEL_MIN_BYTES:
        done = [answered]

        def tick() -> None:
            done[0] += 1
            if on_progress:
                on_progress(done[0], total_jobs)

        if jobs:
            _load_analysis(codes)
        found, result.errors = _check_many(jobs, codes, cache, options, tick)
        result.findings.extend(found)
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # load the analysis once here, so that forked workers share it instead of each
        # importing the engine and the rules
        _load_analysis(codes)

        chunks = _chunks(jobs, min(n, len(jobs)) * 16)
        ctx = multiprocessing.get_context("fork") if sys.platform.startswith("linux") else None
        finished = answered
        # This process only waits: taking chunks here too measured slower on large runs
        # (6 repositories, 0.4M lines: 14.6-14.9 s against 13.5 s).
        with ProcessPoolExecutor(max_workers=min(n, len(chunks)), mp_context=ctx) as pool:
            args = [(c, codes, cache_root, cache_options, options) for c in chunks]
            for chunk, (f, e) in zip(chunks, pool.map(_work, args)):
                result.findings.extend(f)
                result.errors.extend(e)
                finished += len(chunk)
                if on_progress:
                    on_progress(finished, total_jobs)
    result.findings.sort(key=lambda f: f.sort_key)
    result.errors.sort()
    return result
