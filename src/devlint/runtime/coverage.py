"""Which lines of the user's files ran: the difference between REFUTED and NOT REACHED.

Python 3.12+ uses `sys.monitoring` (LINE events, each location disabled after its first
hit, code objects of library files disabled at their first call), which costs almost
nothing after warm-up.  Older Pythons use `sys.settrace` with a local tracer only for
frames of user files, so library code pays one cheap call event per Python call.
This module never imports torch.
"""

from __future__ import annotations

import sys
import threading
from typing import Optional

from devlint.runtime._sites import is_user_file


class LineRecorder:
    """Records the first execution of each line of each user file."""

    def __init__(self) -> None:
        self.hits: dict[str, set[int]] = {}
        self._tool: Optional[int] = None
        self._active = False

    # -- 3.12+: sys.monitoring --
    def _start_monitoring(self) -> bool:
        mon = getattr(sys, "monitoring", None)
        if mon is None:
            return False
        for tool in (mon.COVERAGE_ID, 4, 5):
            try:
                mon.use_tool_id(tool, "devlint")
            except ValueError:
                continue
            self._tool = tool
            break
        else:
            return False
        events = mon.events
        disable = mon.DISABLE
        hits = self.hits

        def on_start(code, offset):
            if is_user_file(code.co_filename):
                mon.set_local_events(self._tool, code, events.LINE)
            return disable

        def on_line(code, line):
            hits.setdefault(code.co_filename, set()).add(line)
            return disable

        mon.register_callback(self._tool, events.PY_START, on_start)
        mon.register_callback(self._tool, events.LINE, on_line)
        mon.set_events(self._tool, events.PY_START)
        # Code already running (the frames that started us) gets line events too.
        frame = sys._getframe(1)
        while frame is not None:
            if is_user_file(frame.f_code.co_filename):
                mon.set_local_events(self._tool, frame.f_code, events.LINE)
            frame = frame.f_back
        return True

    # -- up to 3.11: sys.settrace --
    def _local(self, frame, event, arg):
        if event == "line":
            self.hits.setdefault(frame.f_code.co_filename, set()).add(frame.f_lineno)
        return self._local

    def _global(self, frame, event, arg):
        if event != "call":
            return None
        if is_user_file(frame.f_code.co_filename):
            return self._local
        return None

    def start(self) -> None:
        if self._active:
            return
        self._active = True
        if self._start_monitoring():
            return
        sys.settrace(self._global)
        threading.settrace(self._global)

    def add_code(self, code) -> None:
        """Trace `code` (the program's main module, about to run) from its first line."""
        mon = getattr(sys, "monitoring", None)
        if self._tool is not None and mon is not None:
            mon.set_local_events(self._tool, code, mon.events.LINE)

    def stop(self) -> None:
        if not self._active:
            return
        self._active = False
        mon = getattr(sys, "monitoring", None)
        if self._tool is not None and mon is not None:
            mon.set_events(self._tool, 0)
            mon.register_callback(self._tool, mon.events.PY_START, None)
            mon.register_callback(self._tool, mon.events.LINE, None)
            mon.free_tool_id(self._tool)
            self._tool = None
            return
        sys.settrace(None)
        threading.settrace(None)  # type: ignore[arg-type]

    def snapshot(self) -> dict[str, list[int]]:
        return {path: sorted(lines) for path, lines in self.hits.items()}
