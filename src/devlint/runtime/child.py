"""The child process of `devlint confirm`: run the user's program under the harness.

    python -m devlint.runtime.child SPEC.json

SPEC names the program (`script` or `module`, and its `argv`), the harness options and
where to write the results.  The program runs as `python script.py ARGS` would run it
(`__main__`, `sys.argv`, `sys.path[0]` the script's directory) or as `python -m module`.
Events go to the events file as they happen; at the end (normal exit, `sys.exit`, an
exception) the results file gets the exit status, the exception, the lines of the user's
files that ran, and notes; then the process exits as the program would have, printing
the program's own traceback.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import runpy
import sys
import traceback
from typing import Any, Optional


def _exit_code(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _trim(tb):
    """Drop the harness frames above the program's first frame."""
    here = os.path.dirname(os.path.abspath(__file__))
    while tb is not None and (
        tb.tb_frame.f_code.co_filename.startswith(here)
        or tb.tb_frame.f_code.co_filename.endswith(("runpy.py", "<frozen runpy>"))
    ):
        tb = tb.tb_next
    return tb


def _print_exception(exc: BaseException) -> None:
    """The program's traceback as Python prints it, without the harness's frames."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the devlint package
    te = traceback.TracebackException(type(exc), exc, _trim(exc.__traceback__))
    seen: set[int] = set()
    node: Any = te
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        node.stack = traceback.StackSummary.from_list(
            [f for f in node.stack if not f.filename.startswith(here)]
        )
        node = node.__cause__ or node.__context__
    sys.stderr.write("".join(te.format()))


def exception_record(exc: BaseException) -> dict[str, Any]:
    """How the program (or a worker of it) failed, for the results file."""
    return {
        "type": type(exc).__name__,
        "message": str(exc),
        "device_error": bool(getattr(exc, "_devlint_recorded", False)),
        "harness": _raised_by_harness(exc),
    }


def run(spec: dict[str, Any]) -> int:
    from devlint.runtime.coverage import LineRecorder

    if spec.get("module") in _LAUNCHERS and not spec.get("worker"):
        return _run_launcher(spec)
    recorder = LineRecorder()
    recorder.start(probes=True)
    result: dict[str, Any] = {"status": "ok", "exit_code": 0, "exception": None}
    if spec.get("worker"):
        result.update(pid=os.getpid(), rank=_env_int("RANK"))
    code = 0
    try:
        from devlint.runtime import tracer
        from devlint.runtime.install import NoDevice, install, notes

        config = tracer.Config(
            mode=spec.get("device", "auto"),
            keep_going=bool(spec.get("keep_going")),
            max_batches=int(spec.get("max_batches") or 0),
            events_path=spec["events"],
            device_count=int(spec.get("device_count") or 1),
            results_path=spec.get("parent_results") or spec.get("results") or "",
        )
        try:
            harness = install(config)
        except NoDevice as exc:
            print(f"devlint confirm: {exc}", file=sys.stderr)
            result.update(
                status="no-device", exit_code=2, exception={"type": "NoDevice", "message": str(exc)}
            )
            _write(spec, result, recorder)
            return 2
        result["device"] = harness.mode
        result["device_count"] = _device_count(harness)
        result["torch"] = __import__("torch").__version__
        argv = list(spec.get("argv") or [])
        try:
            if spec.get("module"):
                sys.argv = [spec["module"], *argv]
                sys.path.insert(0, os.getcwd())
                runpy.run_module(spec["module"], run_name="__main__", alter_sys=True)
            else:
                script = os.path.abspath(spec["script"])
                sys.argv = [script, *argv]
                sys.path[0] = os.path.dirname(script)
                _run_script(script, recorder)
        except SystemExit as exc:
            code = _exit_code(exc)
            result.update(status="exit" if code else "ok", exit_code=code)
        except BaseException as exc:  # the program's own failure, reported as Python would
            tracer.record_uncaught(harness, exc)
            code = 1
            result.update(status="exception", exit_code=1, exception=exception_record(exc))
            _print_exception(exc)
        result["notes"] = notes()
        result["event_counts"] = [
            {"key": list(_key(e)), "count": e.get("count", 1)} for e in harness.sink.events
        ]
    finally:
        _write(spec, result, recorder)
    return code


def _device_count(harness: Any) -> int:
    """How many accelerators the program saw: the emulated ones, or the real ones."""
    if harness.mode == "emulated":
        return int(harness.config.device_count)
    if harness.mode == "cuda":
        return int(__import__("torch").cuda.device_count())
    return 0 if harness.mode == "cpu" else 1


_LAUNCHERS = ("torch.distributed.run", "torch.distributed.launch")


def _env_int(name: str) -> Optional[int]:
    try:
        return int(os.environ[name])
    except (KeyError, ValueError):
        return None


def _run_launcher(spec: dict[str, Any]) -> int:
    """`torchrun ...` (`python -m torch.distributed.run`): the launcher runs as itself,
    without the harness (none of the program's code runs in it); each worker it starts
    runs the program under the harness (`--worker`, `distributed.launcher_patches`) and
    writes its own results, which the parent merges."""
    result: dict[str, Any] = {"status": "ok", "exit_code": 0, "exception": None}
    result["launcher"] = True
    notes: list[str] = []
    code = 0
    try:
        worker_spec = f"{spec['results']}.spec.json"
        with open(worker_spec, "w", encoding="utf-8") as fh:
            json.dump({**spec, "worker": True}, fh)
        from devlint.runtime import distributed

        distributed.launcher_patches(worker_spec, notes)
        result["torch"] = __import__("torch").__version__
        argv = list(spec.get("argv") or [])
        sys.argv = [spec["module"], *argv]
        try:
            # The imported module (not a fresh `__main__` copy, which would not see the
            # patched `config_from_args`), run as `python -m` runs it.
            launcher = importlib.import_module(spec["module"])
            launcher.main(argv)
        except SystemExit as exc:
            code = _exit_code(exc)
            result.update(status="exit" if code else "ok", exit_code=code)
        except BaseException as exc:
            code = 1
            result.update(status="exception", exit_code=1, exception=exception_record(exc))
            _print_exception(exc)
    finally:
        result["notes"] = notes
        result["lines"] = {}
        if spec.get("results"):
            _write_json(spec["results"], result)
    return code


def _worker_main(spec_path: str, program: list[str]) -> None:
    """A torchrun worker: `python -m devlint.runtime.child --worker SPEC train.py ARGS`
    (or `-m module ARGS`), the program under the harness, its results beside the run's."""
    import signal

    from devlint.runtime.confirm import parse_program

    # torchrun stops the other workers with SIGTERM once one has failed: end as an exit,
    # so this worker's results (the lines that ran) are still written.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    with open(spec_path, encoding="utf-8") as fh:
        spec = json.load(fh)
    prog = parse_program(["python", *program])
    spec.update(
        script=os.path.abspath(prog.script) if prog.script else None,
        module=prog.module,
        argv=prog.argv,
        worker=True,
        parent_results=spec["results"],
        results=f"{spec['results']}.worker.{os.getpid()}",
    )
    code = run(spec)
    _leave_as_multiprocessing_does(code)


def _leave_as_multiprocessing_does(code: int) -> None:
    """End a torchrun worker once its results are written: the program's `atexit`
    handlers run, the streams are flushed, then `os._exit`, as every `multiprocessing`
    child ends.  Why: the program's module globals (a DDP model holding its process group,
    the rendezvous store) otherwise die during interpreter finalization, and gloo's
    threads torn down there can abort the process (`terminate called without an active
    exception`, SIGABRT) after the program has finished, which torchrun reports as the
    worker's failure: seen on loaded machines with both ranks done."""
    import atexit

    try:
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def _raised_by_harness(exc: BaseException) -> bool:
    """The exception was raised in devlint's own code (the emulator refusing something, or
    a fault of the harness), not by the program or PyTorch: the report says so, because
    the run then says nothing about the program."""
    if getattr(exc, "_devlint_recorded", False):
        return False
    here = os.path.dirname(os.path.abspath(__file__))
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb.tb_frame.f_code.co_filename
        tb = tb.tb_next
    return bool(last and last.startswith(here)) or str(exc).startswith("devlint")


def _run_script(path: str, recorder) -> None:
    """`python path` (as runpy.run_path runs it), with the line probes compiled in."""
    run_code = getattr(runpy, "_run_module_code", None)
    if run_code is None:
        runpy.run_path(path, run_name="__main__")
        return
    code, init = recorder.compile_main(path)
    run_code(code, init, "__main__", script_name=path)


def _key(event: dict[str, Any]):
    from devlint.runtime.events import event_key

    return event_key(event)


def _write(spec: dict[str, Any], result: dict[str, Any], recorder) -> None:
    recorder.stop()
    result["lines"] = recorder.snapshot()
    path = spec.get("results")
    if path:
        _write_json(path, result)


def _write_json(path: str, data: dict[str, Any]) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, default=str)
    os.replace(tmp, path)


def serve(specs: list[dict[str, Any]], jobs: int) -> dict[int, int]:
    """Run many programs, each in a process forked from this one after torch and the
    harness modules are imported (they are paid for once, not once per program).  Used
    to confirm many scripts in one go (the fixture sweep of the tests, benchmarks)."""
    import signal
    import time

    import torch
    import torch.utils.data  # noqa: F401

    from devlint.runtime import emulation, install, tracer  # noqa: F401

    emulation._table()
    # What torch imports lazily on first use, paid once here rather than after each fork:
    # DTensor's dispatch rules (with sympy; the first emulated parameter, 0.9 s) and
    # torch._dynamo (the first optimizer, 0.8 s).  A plain run of the program imports them
    # at the same calls, so nothing the program sees changes but the time.
    for name in ("torch.distributed.tensor", "torch._dynamo", "torch.optim"):
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    pending = list(enumerate(specs))
    running: dict[int, tuple[int, float]] = {}
    codes: dict[int, int] = {}
    while pending or running:
        while pending and len(running) < max(1, jobs):
            index, spec = pending.pop(0)
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:  # the program's process
                code = 70
                try:
                    # Its own process group: a timeout kills its workers with it.
                    os.setpgid(0, 0)
                    out = os.open(spec["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                    os.dup2(out, 1)
                    os.dup2(out, 2)
                    os.chdir(spec["cwd"])
                    os.environ.update(spec.get("env") or {})
                    code = run(spec)
                except SystemExit as exc:
                    code = _exit_code(exc)
                except BaseException:
                    traceback.print_exc()
                finally:
                    try:
                        sys.stdout.flush()
                        sys.stderr.flush()
                    finally:
                        os._exit(code)
            timeout = spec.get("timeout")
            running[pid] = (index, time.monotonic() + timeout if timeout else float("inf"))
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            now = time.monotonic()
            for child, (index, deadline) in list(running.items()):
                if now > deadline:
                    try:
                        os.killpg(child, signal.SIGKILL)
                    except OSError:
                        os.kill(child, signal.SIGKILL)
                    codes[index] = -9
            time.sleep(0.02)
            continue
        index, _ = running.pop(pid)
        codes.setdefault(index, os.waitstatus_to_exitcode(status))
    return codes


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) == 3 and args[0] == "--many":
        with open(args[1], encoding="utf-8") as fh:
            specs = json.load(fh)
        codes = serve(specs, int(args[2]))
        print(json.dumps({str(k): v for k, v in codes.items()}))
        sys.exit(0)
    if len(args) >= 3 and args[0] == "--worker":
        _worker_main(args[1], args[2:])
    if len(args) != 1:
        print("usage: python -m devlint.runtime.child SPEC.json", file=sys.stderr)
        raise SystemExit(2)
    with open(args[0], encoding="utf-8") as fh:
        spec = json.load(fh)
    code = run(spec)
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(code)


if __name__ == "__main__":
    main()
