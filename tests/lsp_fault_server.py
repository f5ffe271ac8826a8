"""`devlint server` with faults injected, for tests/test_server.py only.

The server must survive a bug in devlint: this launcher patches two layers before it
starts the real server, so production code carries no test hook.  A buffer containing
`CHECKER_FAULT` makes the checker raise (the run catches that and reports it as an
internal error); one containing `SERVER_FAULT` makes the run itself raise (the server's
own guard catches it).  Either way the server must log it and keep serving.
"""

from __future__ import annotations

from typing import Any

from devlint import checker, server
from devlint import run as run_module

_real_checker = checker.check_source
_real_run = run_module.check_source


def _text(data: Any) -> str:
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)


def _faulty_checker(data: Any, *args: Any, **kwargs: Any) -> Any:
    if "CHECKER_FAULT" in _text(data):
        raise RuntimeError("injected checker fault")
    return _real_checker(data, *args, **kwargs)


def _faulty_run(data: bytes, *args: Any, **kwargs: Any) -> Any:
    if "SERVER_FAULT" in _text(data):
        raise RuntimeError("injected server fault")
    return _real_run(data, *args, **kwargs)


checker.check_source = _faulty_checker  # type: ignore[assignment]
run_module.check_source = _faulty_run  # type: ignore[assignment]

if __name__ == "__main__":
    server.serve()
