"""Runtime device events and where they are written.

An event is a JSON-ready dict:

    kind       "mismatch"        operands of one operation on different devices
               "numpy"           `.numpy()` (or `__array__`) on an accelerator tensor
               "load"            `torch.load` without `map_location`, with its `outcome`:
                                 "failed" (it raised: accelerator storages and no
                                 accelerator; only this confirms DL008), "would-fail"
                                 (accelerator storages loaded where there is one: a
                                 CPU-only machine raises the message), "cpu-only" (no
                                 accelerator storage: this load cannot show the bug);
                                 `storages`: {saved location: {count, tensors}}
               "no-accelerator"  an accelerator was asked for and there is none
               "legacy"          a legacy CPU constructor (`torch.FloatTensor(...)`) was
                                 given an accelerator `device=`, which it rejects; its one
                                 operand is the tensor it was asked to make (its origin)
    op         the operation (`aten::addmm`, `Tensor.numpy`, `torch.load`, `Tensor.to`)
    call       the program's torch call in progress (`torch.nn.functional.linear`): on a
               real device the call that raised, under the emulation the call around the
               ATen operator that did; what the two have in common (`op` when none)
    message    the error text PyTorch raises (or would raise)
    exception  the exception class name (`RuntimeError`, `TypeError`)
    devices    the device pair, e.g. ["cuda:0", "cpu"]: the expected device, then the odd one
    frames     the user frames, innermost first: {path, line, function, first_line}
    operands   per tensor operand: {name, device, origin: [path, line] | null,
               moves: [[path, line, device], ...]} (moves: `.to()` calls whose result
               was not this tensor, that is, moves asked of it)
    bindings   ("no-accelerator") sites that bound the device value that was asked for
    healed     true when `--keep-going` healed it and the program went on
    count      how many times the same event happened (same kind, op, frames, devices)
    pid        the process that recorded it (DataLoader, mp.spawn and torchrun workers
               write to the same file)

Events are appended to a JSON-lines file as they happen (one `write` per line, with
O_APPEND), so DataLoader worker processes can write to the same file and nothing is
lost when the program crashes or is killed.  This module never imports torch.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any, Optional

KINDS = ("mismatch", "numpy", "load", "no-accelerator", "legacy")


def event_key(event: dict[str, Any]) -> tuple:
    frames = tuple((f["path"], f["line"]) for f in event.get("frames", ()))
    origins: tuple = ()
    if event.get("kind") == "load":
        # A load that failed and one that would fail are different facts about the line.
        origins = (event.get("outcome"),)
    elif event.get("kind") == "mismatch":
        # The same line mixing different tensors is a different event (DL005 at two
        # factories); for the other kinds the line is the event.
        origins = tuple(
            tuple(o["origin"]) if o.get("origin") else None for o in event.get("operands", ())
        )
    return (
        event.get("kind"),
        event.get("op"),
        frames,
        tuple(event.get("devices", ())),
        origins,
    )


class EventSink:
    """Collects events in this process and appends new ones to a file."""

    def __init__(self, path: Optional[str]) -> None:
        self.path = path
        self._seen: dict[tuple, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.events: list[dict[str, Any]] = []

    def add(self, event: dict[str, Any]) -> bool:
        """Record `event`; False when the same event was already recorded here."""
        key = event_key(event)
        with self._lock:
            old = self._seen.get(key)
            if old is not None:
                old["count"] = old.get("count", 1) + 1
                return False
            event.setdefault("count", 1)
            event.setdefault("pid", os.getpid())
            self._seen[key] = event
            self.events.append(event)
            self._write(event)
            return True

    def _write(self, event: dict[str, Any]) -> None:
        if not self.path:
            return
        line = json.dumps(event, default=str) + "\n"
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError:
            return
        try:
            os.write(fd, line.encode("utf-8"))
        finally:
            os.close(fd)


def read_events(path: str) -> list[dict[str, Any]]:
    """The events of a run (all processes), merged by key with their counts added."""
    merged: dict[tuple, dict[str, Any]] = {}
    order: list[tuple] = []
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.readlines()
    except OSError:
        return []
    for line in lines:
        line = line.strip()
        if not line:
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        key = event_key(event)
        if key in merged:
            merged[key]["count"] = merged[key].get("count", 1) + event.get("count", 1)
            merged[key]["healed"] = merged[key].get("healed") or event.get("healed")
            continue
        merged[key] = event
        order.append(key)
    return [merged[k] for k in order]
