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

import json
import os
import runpy
import sys
import traceback
from typing import Any


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


def run(spec: dict[str, Any]) -> int:
    from devlint.runtime.coverage import LineRecorder

    recorder = LineRecorder()
    recorder.start()
    result: dict[str, Any] = {"status": "ok", "exit_code": 0, "exception": None}
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
        )
        try:
            harness = install(config)
        except NoDevice as exc:
            print(f"devlint confirm: {exc}", file=sys.stderr)
            result.update(status="no-device", exit_code=2, exception={"type": "NoDevice", "message": str(exc)})
            _write(spec, result, recorder)
            return 2
        result["device"] = harness.mode
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
                runpy.run_path(script, run_name="__main__")
        except SystemExit as exc:
            code = _exit_code(exc)
            result.update(status="exit" if code else "ok", exit_code=code)
        except BaseException as exc:  # the program's own failure, reported as Python would
            code = 1
            result.update(
                status="exception",
                exit_code=1,
                exception={
                    "type": type(exc).__name__,
                    "message": str(exc),
                    "device_error": bool(getattr(exc, "_devlint_recorded", False)),
                },
            )
            traceback.print_exception(type(exc), exc, _trim(exc.__traceback__))
        result["notes"] = notes()
        result["event_counts"] = [
            {"key": list(_key(e)), "count": e.get("count", 1)} for e in harness.sink.events
        ]
    finally:
        _write(spec, result, recorder)
    return code


def _key(event: dict[str, Any]):
    from devlint.runtime.events import event_key

    return event_key(event)


def _write(spec: dict[str, Any], result: dict[str, Any], recorder) -> None:
    recorder.stop()
    result["lines"] = recorder.snapshot()
    path = spec.get("results")
    if not path:
        return
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(result, fh, default=str)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m devlint.runtime.child SPEC.json", file=sys.stderr)
        raise SystemExit(2)
    with open(args[0], encoding="utf-8") as fh:
        spec = json.load(fh)
    code = run(spec)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code) if spec.get("hard_exit") else sys.exit(code)


if __name__ == "__main__":
    main()
