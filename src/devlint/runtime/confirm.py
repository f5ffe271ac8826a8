"""`devlint confirm`: run a program under the harness and give each static finding a verdict.

1. The program runs in a child process (`devlint.runtime.child`) under the harness, with
   its own arguments, working directory (or a temporary copy of it, `--sandbox`) and
   interpreter.  The child writes the device events as they happen and, at the end, which
   lines of the user's files ran.
2. The static pass checks the user's files that ran (it reads them; it never imports or
   runs anything).
3. Each finding gets a verdict:

   CONFIRMED      a runtime device event is linked to it: its line is one of the event's
                  user frames (DL001, DL003, DL006, DL007, DL009; DL008 only by a load
                  that really failed), the site that
                  created an operand on its device (DL005: only that, never a frame on the
                  factory's line, which may be about another operand), a move asked of an
                  operand and
                  thrown away (DL004), or the binding of the device value that was asked
                  for where there is no accelerator (DL002)
   REFUTED        the line ran, the program ran to its end, and nothing linked to it
   NOT REACHED    the line never ran
   INCONCLUSIVE   the line ran but the program stopped early (an exception, a device error
                  without --keep-going, the timeout): what it made never had its chance
   UNTESTED       the rule cannot be observed with this device (DL002 needs `--device cpu`;
                  the mixing rules need an accelerator, real or emulated), or (DL008) the
                  load ran but did not fail: it met accelerator storages where there is an
                  accelerator (it *would* fail on a CPU-only machine: the message says
                  which storages, on which device) or no accelerator storage at all.  A
                  DL008 is never REFUTED: no run shows that a checkpoint from elsewhere
                  loads.

   Events that no finding explains are reported as MISSED BY STATIC: feedback for the rules.

This module never imports torch: torch is imported by the child only.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from devlint.findings import Finding
from devlint.runtime.events import event_key, read_events

CONFIRMED = "CONFIRMED"
REFUTED = "REFUTED"
NOT_REACHED = "NOT REACHED"
INCONCLUSIVE = "INCONCLUSIVE"
UNTESTED = "UNTESTED"
MISSED = "MISSED BY STATIC"
VERDICTS = (CONFIRMED, REFUTED, NOT_REACHED, INCONCLUSIVE, UNTESTED)

DEVICES = ("auto", "cuda", "mps", "emulated", "cpu")

# Which event kinds can confirm a rule, and through which links.
FRAMES, ORIGINS, MOVES, BINDINGS = "frames", "origins", "moves", "bindings"
RULE_LINKS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # the call, or where the CPU side was made: a new layer set on a moved model
    # (`model.head = nn.Linear(...)`) is reported where it is set
    "DL001": (("mismatch",), (FRAMES, ORIGINS)),
    "DL002": (("no-accelerator",), (FRAMES, BINDINGS)),
    "DL003": (("mismatch",), (FRAMES,)),
    "DL004": (("mismatch", "numpy"), (MOVES,)),
    # A factory's tensor is confirmed by the operand that it made, never by the error's
    # line: `cross_entropy(model(torch.randn(32, 8)), bad_target)` fails on the line of
    # the `randn` about `bad_target`, which says nothing about the `randn`.
    # (a legacy constructor given an accelerator fails where it is made: its origin)
    "DL005": (("mismatch", "legacy"), (ORIGINS,)),
    "DL006": (("mismatch",), (FRAMES, ORIGINS)),
    "DL007": (("numpy",), (FRAMES,)),
    "DL008": (("load",), (FRAMES,)),
    "DL009": (("mismatch",), (FRAMES,)),
}
# The outcome of a `torch.load` without map_location (events.py).  Only a load that
# raised confirms DL008; the other two say what would fail, and are never "missed".
LOAD_FAILED, LOAD_WOULD_FAIL, LOAD_CPU_ONLY = "failed", "would-fail", "cpu-only"


def load_failed(event: dict[str, Any]) -> bool:
    """A `load` event of a load that really raised (events before outcomes were recorded
    were all recorded as failures)."""
    return event.get("kind") == "load" and event.get("outcome", LOAD_FAILED) == LOAD_FAILED


def _unproven_load(event: dict[str, Any]) -> bool:
    return event.get("kind") == "load" and not load_failed(event)


# Rules a run with no accelerator (`--device cpu`) can observe, and the others.
CPU_RULES = frozenset({"DL002", "DL008"})
ACCEL_RULES = frozenset(RULE_LINKS) - {"DL002"}


class ConfirmError(Exception):
    """A usage or setup problem (exit status 2)."""


@dataclass
class Program:
    """What to run: a script or a module, its arguments, and the interpreter."""

    script: Optional[str] = None
    module: Optional[str] = None
    argv: list[str] = field(default_factory=list)
    python: str = sys.executable
    python_flags: list[str] = field(default_factory=list)

    @property
    def display(self) -> str:
        target = self.script if self.script else f"-m {self.module}"
        return " ".join(["python", *self.python_flags, target, *self.argv])


_PYTHON = re.compile(r"^(python|pypy)[\d.]*(\.exe)?$", re.IGNORECASE)
_FLAGS_WITH_VALUE = {"-X", "-W", "-Q"}


_TORCHRUN = re.compile(r"^torchrun(\.exe)?$", re.IGNORECASE)
TORCHRUN_MODULE = "torch.distributed.run"


def parse_program(tokens: Sequence[str]) -> Program:
    """`python [FLAGS] train.py ARGS`, `python -m pkg.mod ARGS`, `train.py ARGS`, or
    `torchrun [TORCHRUN-OPTIONS] train.py ARGS` (run as `python -m torch.distributed.run`:
    the launcher without the harness, each worker under it)."""
    toks = list(tokens)
    if not toks:
        raise ConfirmError("no program given: devlint confirm [OPTIONS] -- python train.py ARGS")
    prog = Program()
    if _TORCHRUN.match(os.path.basename(toks[0])):
        prog.module = TORCHRUN_MODULE
        prog.argv = toks[1:]
        if not prog.argv:
            raise ConfirmError("`torchrun` needs a training script")
        return prog
    if _PYTHON.match(os.path.basename(toks[0])) or os.path.abspath(toks[0]) == sys.executable:
        first = toks.pop(0)
        if os.sep in first or (os.altsep and os.altsep in first):
            prog.python = first
        while toks and toks[0].startswith("-") and toks[0] not in ("-m", "-c", "-"):
            flag = toks.pop(0)
            prog.python_flags.append(flag)
            if flag in _FLAGS_WITH_VALUE and toks:
                prog.python_flags.append(toks.pop(0))
        if toks and toks[0] == "-c":
            raise ConfirmError("`python -c` is not supported: put the code in a file")
    if not toks:
        raise ConfirmError("no script or module given")
    if toks[0] == "-m":
        if len(toks) < 2:
            raise ConfirmError("`-m` needs a module name")
        prog.module = toks[1]
        prog.argv = toks[2:]
    else:
        prog.script = toks[0]
        prog.argv = toks[1:]
        if not os.path.isfile(prog.script):
            raise ConfirmError(f"no such file: {prog.script}")
    return prog


@dataclass
class Options:
    device: str = "auto"
    keep_going: bool = False
    max_batches: int = 0
    timeout: Optional[float] = None
    sandbox: bool = False
    device_count: int = 1
    cwd: Optional[str] = None
    quiet_program: bool = False  # capture the program's output instead of passing it on


@dataclass
class RunResult:
    status: str  # ok, exit, exception, timeout, killed, no-device, error
    exit_code: Optional[int]
    device: Optional[str]
    exception: Optional[dict[str, Any]]
    events: list[dict[str, Any]]
    lines: dict[str, set[int]]
    notes: list[str]
    elapsed: float
    torch_version: Optional[str] = None
    output: str = ""
    # The program's worker processes (mp.spawn, torchrun), one record each: rank, pid,
    # status, exception (see `_merge_workers`).
    workers: list[dict[str, Any]] = field(default_factory=list)
    device_count: Optional[int] = None  # how many accelerators the program saw

    @property
    def completed(self) -> bool:
        """The program ran to its end with status 0 (`sys.exit(0)` is an end too).  A
        non-zero exit is a failure of the program: what it skipped was not checked."""
        return self.status == "ok"

    @property
    def stopped_by_device_error(self) -> bool:
        """The program died of a device error that the harness recorded (the error that
        confirms or is missed; without --keep-going the run ends there)."""
        return self.status == "exception" and bool((self.exception or {}).get("device_error"))

    @property
    def crashed(self) -> bool:
        """The run did not complete for a reason that is not a recorded device error: an
        exception of the program (or of the emulator), a non-zero exit, a kill, or no run
        at all.  Nothing after that point was checked, so `devlint confirm` fails too."""
        if self.status in ("ok", "timeout"):
            return False
        return not self.stopped_by_device_error

    def stop_description(self) -> str:
        """Why the run did not complete, for the report: `RuntimeError: ...`."""
        exc = self.exception or {}
        if self.status == "exception":
            text = f"{exc.get('type')}: {_first_line(str(exc.get('message', '')))}".rstrip(": ")
            if exc.get("harness"):
                text = "the emulated accelerator raised " + text
            if "worker" in exc:
                rank = exc.get("worker")
                text = f"{'rank ' + str(rank) if rank is not None else 'a worker'}: {text}"
            return text
        if self.status == "exit":
            return f"the program exited with status {self.exit_code}"
        if self.status == "killed":
            return f"the program was killed (status {self.exit_code})"
        if self.status == "no-device":
            return str(exc.get("message") or "no such device")
        if self.status == "timeout":
            return "the timeout"
        return "the program could not be run"


def _first_line(text: str, limit: int = 300) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _devlint_root() -> str:
    import devlint

    return os.path.dirname(os.path.dirname(os.path.abspath(devlint.__file__)))


def _copy_tree(src: str, dst: str) -> None:
    ignore = shutil.ignore_patterns(
        ".git",
        ".hg",
        ".svn",
        "__pycache__",
        ".venv",
        "venv",
        ".tox",
        ".nox",
        "node_modules",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".devlint_cache",
    )
    shutil.copytree(src, dst, ignore=ignore, symlinks=True, dirs_exist_ok=True)


def run(program: Program, options: Options) -> RunResult:
    """Run `program` in a child process under the harness."""
    if options.device not in DEVICES:
        raise ConfirmError(f"unknown device {options.device!r} (choose from {', '.join(DEVICES)})")
    cwd = os.path.abspath(options.cwd or os.getcwd())
    work = tempfile.mkdtemp(prefix="devlint-confirm-")
    run_dir = cwd
    script = os.path.abspath(program.script) if program.script else None
    try:
        if options.sandbox:
            run_dir = os.path.join(work, "sandbox")
            _copy_tree(cwd, run_dir)
            if script and _inside(script, cwd):
                script = os.path.join(run_dir, os.path.relpath(script, cwd))
        spec = _child_spec(program, options, script, work, "")
        spec_path = os.path.join(work, "spec.json")
        with open(spec_path, "w", encoding="utf-8") as fh:
            json.dump(spec, fh)
        env = _child_env()
        if options.device == "cpu":
            env["CUDA_VISIBLE_DEVICES"] = ""
        cmd = [program.python, *program.python_flags, "-m", "devlint.runtime.child", spec_path]
        started = time.monotonic()
        status_override = None
        output = ""
        capture = subprocess.PIPE if options.quiet_program else None
        proc = subprocess.Popen(
            cmd,
            cwd=run_dir,
            env=env,
            stdout=capture if capture else _program_stdout(),
            stderr=subprocess.STDOUT if capture else None,
            start_new_session=True,
            text=True if capture else None,
        )
        try:
            out, _ = proc.communicate(timeout=options.timeout)
            output = out or ""
        except subprocess.TimeoutExpired:
            _kill(proc)
            out, _ = proc.communicate()
            output = out or ""
            status_override = "timeout"
        except KeyboardInterrupt:
            _kill(proc)
            proc.communicate()
            raise
        elapsed = time.monotonic() - started
        result = _read_results(spec, proc.returncode, status_override)
        result.elapsed = elapsed
        result.output = output
        if options.sandbox:
            _unmap(result, run_dir, cwd)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _program_stdout() -> int:
    """Where the program's own stdout goes: our stderr.  The report is the only thing
    `devlint confirm` writes on stdout (in every format), so `--output-format json` can be
    piped into a parser while the program's prints still reach the terminal."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        return sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # a stream without a descriptor
        return 2


def _child_spec(
    program: Program, options: Options, script: Optional[str], work: str, prefix: str
) -> dict[str, Any]:
    """What the child (`devlint.runtime.child`) runs and where it writes its events and
    results (`<work>/<prefix>events.jsonl`, `...results.json`)."""
    return {
        "script": script,
        "module": program.module,
        "argv": program.argv,
        "device": options.device,
        "keep_going": options.keep_going,
        "max_batches": options.max_batches,
        "device_count": options.device_count,
        "events": os.path.join(work, f"{prefix}events.jsonl"),
        "results": os.path.join(work, f"{prefix}results.json"),
    }


def _child_env() -> dict[str, str]:
    """The child's environment: devlint importable, no harness flag inherited."""
    env = dict(os.environ)
    root = _devlint_root()
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("DEVLINT_HARNESS", None)
    return env


def run_many(
    programs: Sequence[Program], options: Options | Sequence[Options], jobs: int = 2
) -> list[RunResult]:
    """Run several programs under the harness, `jobs` at a time (`options`: one for all,
    or one per program).  On POSIX they are forked from one process that imported torch
    once (much faster for many small programs); elsewhere, or with --sandbox, each runs as
    `run` runs it.  Each program's output is kept in its `RunResult.output`."""
    all_options = [options] * len(programs) if isinstance(options, Options) else list(options)
    if len(all_options) != len(programs):
        raise ConfirmError("run_many: one Options per program, or one for all")
    if any(o.sandbox for o in all_options) or not hasattr(os, "fork") or sys.platform == "win32":
        return [
            run(p, Options(**{**o.__dict__, "quiet_program": True}))
            for p, o in zip(programs, all_options)
        ]
    work = tempfile.mkdtemp(prefix="devlint-confirm-many-")
    try:
        specs = []
        for i, (program, options) in enumerate(zip(programs, all_options)):
            cwd = os.path.abspath(options.cwd or os.getcwd())
            script = os.path.abspath(program.script) if program.script else None
            specs.append(
                {
                    **_child_spec(program, options, script, work, f"{i}."),
                    "output": os.path.join(work, f"{i}.out"),
                    "cwd": os.path.dirname(script) if script and options.cwd is None else cwd,
                    "env": {"CUDA_VISIBLE_DEVICES": ""} if options.device == "cpu" else {},
                    "timeout": options.timeout,
                }
            )
        specs_path = os.path.join(work, "specs.json")
        with open(specs_path, "w", encoding="utf-8") as fh:
            json.dump(specs, fh)
        env = _child_env()
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "devlint.runtime.child", "--many", specs_path, str(jobs)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        try:
            codes = {int(k): v for k, v in json.loads(proc.stdout.strip().splitlines()[-1]).items()}
        except (ValueError, IndexError):
            raise ConfirmError(f"the runner failed: {proc.stderr[-2000:]}") from None
        results = []
        for i, spec in enumerate(specs):
            code = codes.get(i, -1)
            result = _read_results(spec, code, "timeout" if code == -9 else None)
            result.elapsed = time.monotonic() - started
            try:
                with open(spec["output"], encoding="utf-8", errors="replace") as fh:
                    result.output = fh.read()
            except OSError:
                pass
            results.append(result)
        return results
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _inside(path: str, root: str) -> bool:
    try:
        return os.path.commonpath(
            [os.path.realpath(path), os.path.realpath(root)]
        ) == os.path.realpath(root)
    except ValueError:
        return False


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (OSError, AttributeError):
        proc.kill()


def _read_results(
    spec: dict[str, Any], returncode: int, status_override: Optional[str]
) -> RunResult:
    data: dict[str, Any] = {}
    try:
        with open(spec["results"], encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        data = {}
    events = read_events(spec["events"])
    workers = _worker_results(spec["results"])
    counts: dict[Any, int] = {}
    for part in (data, *workers):
        for item in part.get("event_counts", ()):
            key = _tuplify(item["key"])
            counts[key] = counts.get(key, 0) + item["count"]
    for e in events:
        n = counts.get(event_key(e))
        if n:
            e["count"] = max(e.get("count", 1), n)
    status = status_override or data.get("status") or ("killed" if returncode else "error")
    result = RunResult(
        status=status,
        exit_code=data.get("exit_code", returncode),
        device=data.get("device"),
        exception=data.get("exception"),
        events=events,
        lines={p: set(v) for p, v in (data.get("lines") or {}).items()},
        notes=list(data.get("notes") or ()),
        elapsed=0.0,
        torch_version=data.get("torch"),
        device_count=data.get("device_count"),
    )
    _merge_workers(result, workers)
    return result


def _worker_results(results_path: str) -> list[dict[str, Any]]:
    """The results the program's worker processes wrote (`<results>.worker.<pid>`),
    by rank."""
    folder, base = os.path.split(results_path)
    prefix = base + ".worker."
    found = []
    try:
        names = sorted(os.listdir(folder or "."))
    except OSError:
        return []
    for name in names:
        if not name.startswith(prefix) or name.endswith(".tmp"):
            continue
        try:
            with open(os.path.join(folder, name), encoding="utf-8") as fh:
                found.append(json.load(fh))
        except (OSError, ValueError):
            continue
    found.sort(key=lambda w: (w.get("rank") is None, w.get("rank") or 0, w.get("pid") or 0))
    return found


def _merge_workers(result: RunResult, workers: list[dict[str, Any]]) -> None:
    """The run is the program's processes together: the workers' lines ran, their notes
    are the run's, and their device (a torchrun launcher has none).  When the main
    process failed because a worker did (mp.spawn's ProcessRaisedException, torchrun's
    ChildFailedError), the run ends as that worker ended: stopped by a device error if the
    worker recorded one, else with the worker's own exception."""
    for w in workers:
        for path, lines in (w.get("lines") or {}).items():
            result.lines.setdefault(path, set()).update(lines)
        for text in w.get("notes") or ():
            if text not in result.notes:
                result.notes.append(text)
        result.device = result.device or w.get("device")
        if result.device_count is None:
            result.device_count = w.get("device_count")
        result.torch_version = result.torch_version or w.get("torch")
        result.workers.append(
            {
                "rank": w.get("rank"),
                "pid": w.get("pid"),
                "status": w.get("status"),
                "exception": w.get("exception"),
            }
        )
    if result.status not in ("exception", "exit") or result.stopped_by_device_error:
        return
    failed = [w for w in workers if w.get("status") in ("exception", "exit")]
    if not failed:
        return
    # The cause, not its echoes: a device error first, then an exception (the others were
    # stopped by the launcher once one had failed).
    stopped = min(
        failed,
        key=lambda w: (
            not (w.get("exception") or {}).get("device_error"),
            w.get("status") != "exception",
        ),
    )
    exc = dict(stopped.get("exception") or {})
    if not exc:
        exc = {"type": "SystemExit", "message": f"exit status {stopped.get('exit_code')}"}
    exc["worker"] = stopped.get("rank")
    exc["main"] = result.exception
    result.status = "exception"
    result.exception = exc


def _tuplify(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(_tuplify(x) for x in v)
    return v


def _unmap(result: RunResult, run_dir: str, cwd: str) -> None:
    real_run = os.path.realpath(run_dir)

    def fix(path: Any) -> Any:
        if isinstance(path, str):
            rp = os.path.realpath(path) if os.path.isabs(path) else path
            if isinstance(rp, str) and rp.startswith(real_run + os.sep):
                return os.path.join(cwd, os.path.relpath(rp, real_run))
            if path.startswith(run_dir + os.sep):
                return os.path.join(cwd, os.path.relpath(path, run_dir))
        return path

    result.lines = {fix(p): v for p, v in result.lines.items()}
    for e in result.events:
        for fr in e.get("frames", ()):
            fr["path"] = fix(fr["path"])
        for op in e.get("operands", ()):
            if op.get("origin"):
                op["origin"][0] = fix(op["origin"][0])
            for m in op.get("moves", ()):
                m[0] = fix(m[0])
        for b in e.get("bindings", ()) or ():
            b[0] = fix(b[0])


# --- linking ---------------------------------------------------------------------------


@dataclass
class Confirmation:
    verdict: str
    message: str = ""  # the runtime message (or why there is none)
    devices: list[str] = field(default_factory=list)
    event: Optional[dict[str, Any]] = None
    link: str = ""  # frames / origins / moves / bindings

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "verdict": self.verdict,
            "runtime_message": self.message,
            "devices": self.devices,
        }
        if self.event is not None:
            e = self.event
            top = (e.get("frames") or [{}])[0]
            d.update(
                kind=e.get("kind"),
                op=e.get("op"),
                exception=e.get("exception"),
                link=self.link,
                location={"filename": top.get("path"), "row": top.get("line")},
                count=e.get("count", 1),
                healed=bool(e.get("healed")),
            )
            if e.get("kind") == "load":
                d.update(outcome=e.get("outcome", LOAD_FAILED), storages=e.get("storages", {}))
        return d


def _norm(path: str) -> str:
    return os.path.normcase(os.path.realpath(path))


def event_links(event: dict[str, Any]) -> dict[str, set[tuple[str, int]]]:
    links: dict[str, set[tuple[str, int]]] = {
        FRAMES: set(),
        ORIGINS: set(),
        MOVES: set(),
        BINDINGS: set(),
    }
    for fr in event.get("frames", ()):
        links[FRAMES].add((_norm(fr["path"]), fr["line"]))
    for op in event.get("operands", ()):
        if op.get("origin"):
            links[ORIGINS].add((_norm(op["origin"][0]), op["origin"][1]))
        for m in op.get("moves", ()):
            links[MOVES].add((_norm(m[0]), m[1]))
    for b in event.get("bindings", ()) or ():
        links[BINDINGS].add((_norm(b[0]), b[1]))
    return links


class _Statements:
    """The line range whose execution means a finding's line "ran" (per file, cached)."""

    def __init__(self) -> None:
        self.trees: dict[str, Optional[ast.AST]] = {}

    def span(self, path: str, line: int) -> tuple[int, int]:
        tree = self.trees.get(path, False)
        if tree is False:
            try:
                with open(path, "rb") as fh:
                    tree = ast.parse(fh.read())
            except (OSError, SyntaxError, ValueError):
                tree = None
            self.trees[path] = tree
        if tree is None:
            return (line, line)
        best: Optional[ast.stmt] = None
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.stmt)
                and node.lineno <= line <= (node.end_lineno or node.lineno)
                and (best is None or node.lineno >= best.lineno)
            ):
                best = node
        if best is None:
            return (line, line)
        body = getattr(best, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
            start = min([best.lineno, *[d.lineno for d in getattr(best, "decorator_list", [])]])
            return (start, max(start, body[0].lineno - 1))
        return (best.lineno, best.end_lineno or best.lineno)


def testable(code: str, device: Optional[str]) -> bool:
    if device == "cpu":
        return code in CPU_RULES
    return code in ACCEL_RULES


def confirm_findings(
    findings: Sequence[Finding], result: RunResult
) -> tuple[list[tuple[Finding, Confirmation]], list[dict[str, Any]]]:
    """Verdicts for `findings` and the events no finding explains (MISSED BY STATIC)."""
    statements = _Statements()
    lines = {_norm(p): v for p, v in result.lines.items()}
    links = [event_links(e) for e in result.events]
    used: set[int] = set()
    out: list[tuple[Finding, Confirmation]] = []
    for f in findings:
        rule = RULE_LINKS.get(f.code)
        keys = {(_norm(f.path), line) for line in (f.line, *f.also_lines)}
        conf: Optional[Confirmation] = None
        unproven: Optional[tuple[dict[str, Any], str]] = None  # a load that did not fail
        if rule is not None:
            kinds, via = rule
            for i, (event, lk) in enumerate(zip(result.events, links)):
                if event.get("kind") not in kinds:
                    continue
                how = next((v for v in via if keys & lk[v]), None)
                if how is None:
                    continue
                used.add(i)
                if _unproven_load(event):
                    if unproven is None or (
                        event.get("outcome") == LOAD_WOULD_FAIL
                        and unproven[0].get("outcome") != LOAD_WOULD_FAIL
                    ):
                        unproven = (event, how)
                    continue
                if conf is None:
                    conf = Confirmation(
                        CONFIRMED,
                        f"{event.get('exception', 'RuntimeError')}: {event.get('message', '')}",
                        list(event.get("devices", [])),
                        event,
                        how,
                    )
        if conf is None:
            start, end = statements.span(f.path, f.line)
            hits = lines.get(_norm(f.path), set())
            reached = any(start <= ln <= end for ln in hits) or f.line in hits
            if not reached:
                conf = Confirmation(NOT_REACHED, "the line never ran")
            elif f.code == "DL008":
                conf = _untested_load(unproven, result)
            elif rule is None or not testable(f.code, result.device):
                conf = Confirmation(UNTESTED, _untested_reason(f.code, result.device))
            elif not result.completed:
                conf = Confirmation(
                    INCONCLUSIVE,
                    "the line ran, but the program stopped early (" + _stop_reason(result) + ")",
                )
            else:
                conf = Confirmation(
                    REFUTED, "the line ran and nothing it made or touched mixed devices"
                )
        out.append((f, conf))
    # A load that would fail elsewhere (or cannot fail) is no error of this run.
    missed = [e for i, e in enumerate(result.events) if i not in used and not _unproven_load(e)]
    # With no accelerator, every failure after the first comes from the same few device
    # values: once a DL002 finding explains one, the others are its consequences.
    explained_files = {
        _norm(f.path) for f, c in out if f.code == "DL002" and c.verdict == CONFIRMED
    }
    missed = [
        e
        for e in missed
        if not (
            e.get("kind") == "no-accelerator"
            and any(_norm(fr["path"]) in explained_files for fr in e.get("frames", ()))
        )
    ]
    return out, missed


def _untested_load(
    unproven: Optional[tuple[dict[str, Any], str]], result: RunResult
) -> Confirmation:
    """The UNTESTED verdict of a DL008 whose load ran without failing: what would fail,
    where, and why this run could not show it."""
    if unproven is None:
        return Confirmation(
            UNTESTED,
            "the line ran, but no torch.load without map_location read a checkpoint there: "
            "such a load fails only on a checkpoint with accelerator storages, on a machine "
            "without that accelerator",
        )
    event, how = unproven
    top = (event.get("frames") or [{}])[0]
    where = f"{_short(str(top.get('path')))}:{top.get('line')}" if top else "this line"
    storages = storages_text(event.get("storages") or {})
    if event.get("outcome") == LOAD_WOULD_FAIL:
        message = (
            f"would fail on a CPU-only machine, not in this run ({result.device} has the "
            f"accelerator): torch.load at {where} without map_location read {storages}; "
            f"there it raises {event.get('exception') or 'RuntimeError'}: "
            f"{_first_sentence(str(event.get('message', '')))} (to see it fail, load a "
            "checkpoint this program saved on the accelerator in a run with --device cpu)"
        )
    else:
        message = (
            f"this run cannot show it: torch.load at {where} read {storages or 'no storage'}"
            ", no accelerator storage; a checkpoint saved on an accelerator and loaded here "
            "without map_location fails on a CPU-only machine"
        )
    return Confirmation(UNTESTED, message, list(event.get("devices", [])), event, how)


def _short(path: str) -> str:
    """`path` relative to the working directory when it is below it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def _first_sentence(text: str) -> str:
    line = _first_line(text)
    end = line.find(". ")
    return line[: end + 1] if end > 0 else line


def storages_text(storages: dict[str, Any]) -> str:
    """`2 storages on cuda:0 (fc.weight, fc.bias) and 1 on cpu (step)`: which tensors of a
    checkpoint were saved on which device, accelerator locations first."""
    parts = []
    for i, loc in enumerate(sorted(storages, key=lambda loc: (loc.startswith("cpu"), loc))):
        info = storages[loc] or {}
        count = int(info.get("count", 0))
        names = list(info.get("tensors") or [])
        noun = ("storage" if count == 1 else "storages") if i == 0 else ""
        text = f"{count} {noun} on {loc}".replace("  ", " ")
        if names:
            text += f" ({', '.join(names)}{', ...' if count > len(names) else ''})"
        parts.append(text)
    return " and ".join(parts)


def _untested_reason(code: str, device: Optional[str]) -> str:
    if code not in RULE_LINKS:
        return "not a runtime-observable rule"
    if device == "cpu":
        return "needs an accelerator (real or --device emulated) to show"
    if code == "DL002":
        return "shows only where there is no accelerator: run with --device cpu"
    return f"cannot be observed with device {device}"


def _stop_reason(result: RunResult) -> str:
    if result.status == "timeout":
        return "timeout"
    if result.stopped_by_device_error:
        return f"device error: {(result.exception or {}).get('type')}"
    return "did not complete: " + result.stop_description()


def static_findings(
    paths: Sequence[str],
    root: Optional[str] = None,
    resolver: Any = None,
    select: Optional[Sequence[str]] = None,
) -> list[Finding]:
    """The static pass over `paths` (reads files only), checked as `devlint PATHS` checks
    them: each with the settings of the nearest configuration file at or above it
    (`devlint --show-settings FILE` shows them: its rule selection, `per-file-ignores`,
    `device-names`, `gpu-guards`, `library`/`scripts`), with what the rest of its project
    says (imported classes and functions, callers, the default device), then its `noqa`
    comments.  `root`: the directory the run's own patterns are relative to (default: the
    current one); `resolver`: a `settings.Resolver` to share (e.g. one already asked
    before the run).  `select` (codes or prefixes, `ALL` for every rule) replaces each
    file's selection, as `devlint --select` does: it can turn on a rule that is off by
    default.  A file whose configuration cannot be used is left out with a message on
    stderr."""
    from pathlib import Path

    from devlint import runner
    from devlint.config import ConfigError
    from devlint.run import RunOptions, analysis_options, apply_settings

    if resolver is None:
        resolver = settings_resolver(root, select)
    options = RunOptions()
    by_path: dict[str, Any] = {}
    groups: dict[Any, list[str]] = {}
    for path in paths:
        try:
            settings = resolver.for_path(path)
        except ConfigError as exc:
            print(f"devlint confirm: could not check {path}: {exc}", file=sys.stderr)
            continue
        if not any(c in RULE_LINKS for c in settings.codes):
            continue
        by_path[path] = settings
        groups.setdefault(settings, []).append(path)
    found: list[Finding] = []
    for settings, group in groups.items():
        codes = [c for c in settings.codes if c in RULE_LINKS]
        result = runner.run(
            [runner.Job(Path(p), p) for p in group],
            codes,
            workers=1,
            options=analysis_options(settings, options),
        )
        found.extend(f for f in result.findings if f.code in RULE_LINKS)
        for where, message in result.errors:  # one unreadable file must not stop the report
            print(f"devlint confirm: could not check {where}: {message}", file=sys.stderr)
    found = apply_settings(found, by_path, list(paths))
    found.sort(key=lambda f: (f.path, f.line, f.col, f.code))
    return found


def settings_resolver(root: Optional[str] = None, select: Optional[Sequence[str]] = None) -> Any:
    """The per-file settings resolver of the static command, for a run from `root`;
    `select` replaces each file's rule selection (`--select`)."""
    from devlint.settings import CommandLine, Resolver

    return Resolver(
        CommandLine(
            cwd=os.path.abspath(root or os.getcwd()),
            select=tuple(select) if select else None,
        )
    )


def files_that_ran(result: RunResult, program: Program) -> list[str]:
    paths = {p for p, v in result.lines.items() if v and os.path.isfile(p)}
    if program.script and os.path.isfile(program.script):
        paths.add(os.path.abspath(program.script))
    dev = os.path.dirname(os.path.abspath(__file__))
    return sorted(p for p in paths if not p.startswith(os.path.dirname(dev)))


@dataclass
class Report:
    program: Program
    result: RunResult
    items: list[tuple[Finding, Confirmation]]
    missed: list[dict[str, Any]]

    def counts(self) -> dict[str, int]:
        c = {v: 0 for v in VERDICTS}
        for _, conf in self.items:
            c[conf.verdict] += 1
        return c


def confirm(program: Program, options: Options, select: Optional[Sequence[str]] = None) -> Report:
    resolver = settings_resolver(options.cwd, select)
    _check_configuration(program, options, resolver)
    result = run(program, options)
    paths = files_that_ran(result, program)
    findings = static_findings(paths, options.cwd, resolver)
    if select and "ALL" not in select:
        findings = [f for f in findings if any(f.code.startswith(s) for s in select)]
    items, missed = confirm_findings(findings, result)
    return Report(program, result, items, missed)


def _check_configuration(program: Program, options: Options, resolver: Any) -> None:
    """A configuration file that the static command would refuse (exit 2) is a usage error
    before the program runs, for the script's own directory (or, for `-m`, the working
    directory); files elsewhere that ran are checked after the run, each with its own."""
    from devlint.config import ConfigError

    cwd = os.path.abspath(options.cwd or os.getcwd())
    start = program.script if program.script and os.path.isfile(program.script) else cwd
    try:
        resolver.for_path(os.path.join(cwd, start))
    except ConfigError as exc:
        raise ConfirmError(f"configuration: {exc}") from exc
