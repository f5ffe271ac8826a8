"""Reports of `devlint confirm`: text, json, json-lines and sarif.

text        one line per finding: `path:line:col: CODE VERDICT message | runtime message
            [expected device, odd device] at path:line in f() called from path:line |
            operands: x on cpu made at path:line, moved at path:line to cuda:0 (result
            unused); ...`, then one line per event no finding explains (`MISSED BY
            STATIC`, with the same where/operands parts), then a summary of the run.  The
            operands' origins and moves are what a user needs to fix the bug (the crash
            line is often not where the tensor went wrong), and the caller tells apart two
            events of one helper: no two event lines print the same (the caller chain
            grows until they differ).
json        {"findings": [...], "missed_by_static": [...], "run": {...}}: each finding is
            the record of the `json` format of `devlint check` plus a `confirmation`
            object (verdict, runtime_message, devices, and for a linked event its kind, op,
            exception, location, count and how it was linked).
json-lines  one finding record per line, then one `{"missed_by_static": ...}` per event.
sarif       SARIF 2.1.0 as `devlint check` writes it, each result with
            `properties.confirmation`; missed events become tool notifications.
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable

from devlint.runtime.confirm import CONFIRMED, VERDICTS, Report, storages_text

FORMATS = ("text", "json", "json-lines", "sarif")


def _rel(path: str) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def _record(f) -> dict[str, Any]:
    try:
        from devlint.report.json_format import record

        return record(f)
    except Exception:
        return {
            "code": f.code,
            "name": f.name,
            "message": f.message,
            "filename": os.path.abspath(f.path),
            "location": {"row": f.line, "column": f.col},
            "end_location": {"row": f.end_line, "column": f.end_col},
        }


def _event_dict(e: dict[str, Any]) -> dict[str, Any]:
    top = (e.get("frames") or [{}])[0]
    return {
        "kind": e.get("kind"),
        "op": e.get("op"),
        "message": e.get("message"),
        "exception": e.get("exception"),
        "devices": e.get("devices", []),
        "filename": top.get("path"),
        "row": top.get("line"),
        "count": e.get("count", 1),
        "frames": e.get("frames", []),
        "operands": e.get("operands", []),
    }


def run_summary(report: Report) -> dict[str, Any]:
    r = report.result
    return {
        "program": report.program.display,
        "device": r.device,
        "devices": r.device_count,
        "status": r.status,
        "completed": r.completed,
        "stop_reason": None if r.completed else r.stop_description(),
        "exit_code": r.exit_code,
        "exception": r.exception,
        "seconds": round(r.elapsed, 3),
        "torch": r.torch_version,
        "notes": r.notes,
        "verdicts": report.counts(),
        "missed_by_static": len(report.missed),
        "workers": r.workers,
    }


def render(report: Report, fmt: str) -> str:
    if fmt == "json":
        data = {
            "findings": [{**_record(f), "confirmation": c.as_dict()} for f, c in report.items],
            "missed_by_static": [_event_dict(e) for e in report.missed],
            "run": run_summary(report),
        }
        return json.dumps(data, indent=2, ensure_ascii=True, default=str) + "\n"
    if fmt == "json-lines":
        lines = [
            json.dumps({**_record(f), "confirmation": c.as_dict()}, ensure_ascii=True, default=str)
            for f, c in report.items
        ]
        lines += [
            json.dumps({"missed_by_static": _event_dict(e)}, ensure_ascii=True, default=str)
            for e in report.missed
        ]
        return "".join(line + "\n" for line in lines)
    if fmt == "sarif":
        return _sarif(report)
    return _text(report)


def _site(path: Any, line: Any) -> str:
    return f"{_rel(str(path))}:{line}"


def _callers(e: dict[str, Any], depth: int) -> str:
    """` in f() called from a.py:20 <- a.py:31`: the function of the innermost user frame
    and `depth` of its callers (as many as there are, up to `depth`)."""
    frames = e.get("frames") or []
    if not frames:
        return ""
    text = f" in {frames[0].get('function', '?')}()" if frames[0].get("function") else ""
    chain = [_site(fr["path"], fr["line"]) for fr in frames[1 : 1 + depth]]
    if chain:
        text += " called from " + " <- ".join(chain)
    return text


def _operands(e: dict[str, Any]) -> str:
    """Where each operand was made on its device and the moves asked of it whose result
    it is not; for a load, which storages were on which device; for a missing
    accelerator, where the device value was bound."""
    parts = []
    for op in e.get("operands") or ():
        text = f"{op.get('name') or 'operand'} on {op.get('device')}"
        origin = op.get("origin")
        text += f" made at {_site(*origin)}" if origin else " made outside the user's code"
        for move in op.get("moves") or ():
            text += f", moved at {_site(move[0], move[1])} to {move[2]} (result unused)"
        parts.append(text)
    if parts:
        return " | operands: " + "; ".join(parts)
    if e.get("storages"):
        return " | storages: " + storages_text(e["storages"])
    bindings = e.get("bindings") or ()
    if bindings:
        return " | device bound at " + ", ".join(_site(b[0], b[1]) for b in bindings)
    return ""


def _top(e: dict[str, Any]) -> str:
    top = (e.get("frames") or [{}])[0]
    return _site(top["path"], top["line"]) if top else "<unknown>"


def _event_lines(
    events: list[dict[str, Any]], head: Callable[[dict[str, Any], str], str]
) -> list[str]:
    """`head(event, detail)` for each event, where `detail` is ` in f() called from ... |
    operands: ...`: one caller first, more for events whose lines would otherwise print
    the same."""
    depth = [1] * len(events)
    while True:
        lines = [head(e, _callers(e, d) + _operands(e)) for e, d in zip(events, depth)]
        seen: dict[str, list[int]] = {}
        for i, text in enumerate(lines):
            seen.setdefault(text, []).append(i)
        grow = [
            i
            for same in seen.values()
            if len(same) > 1
            for i in same
            if depth[i] < len(events[i].get("frames") or ())
        ]
        if not grow:
            return lines
        for i in grow:
            depth[i] += 1


def _text(report: Report) -> str:
    out: list[str] = []
    confirmed = [(f, c) for f, c in report.items if c.verdict == CONFIRMED and c.event]
    details = dict(
        zip(
            [id(c) for _, c in confirmed],
            _event_lines(
                [c.event for _, c in confirmed if c.event is not None],
                lambda e, detail: f" at {_top(e)}{detail}",
            ),
        )
    )
    for f, c in report.items:
        line = f"{_rel(f.path)}:{f.line}:{f.col}: {f.code} {c.verdict} {f.message}"
        if c.verdict == CONFIRMED:
            line += f" | {c.message} [{', '.join(c.devices)}]{details.get(id(c), '')}"
        else:
            line += f" | {c.message}"
        out.append(line)

    def missed_line(e: dict[str, Any], detail: str) -> str:
        count = f" ({e.get('count')} times)" if e.get("count", 1) > 1 else ""
        return (
            f"{_top(e)}: MISSED BY STATIC {e.get('op')} [{', '.join(e.get('devices', []))}]"
            f" {e.get('exception')}: {e.get('message')}{count} |{detail}"
        )

    out.extend(_event_lines(report.missed, missed_line))
    counts = report.counts()
    r = report.result
    parts = [f"{counts[v]} {v.lower()}" for v in VERDICTS if counts[v]]
    if report.missed:
        parts.append(f"{len(report.missed)} missed by static")
    summary = ", ".join(parts) if parts else "no findings in the files that ran"
    took = f" in {r.elapsed:.1f}s"
    if r.status == "ok":
        ending = "ran to completion" + took
    elif r.stopped_by_device_error:
        ending = "stopped on a device error" + took
    elif r.status == "timeout":
        ending = "was stopped by the timeout" + took
    else:
        ending = f"did not complete ({r.elapsed:.1f}s): {r.stop_description()}"
    if r.device is None:
        out.append(f"Nothing was checked: {summary}. The program {ending}.")
    else:
        out.append(f"Confirmed on {r.device}{_where(r)}: {summary}. The program {ending}.")
    for note in r.notes:
        out.append(f"note: {note}")
    return "\n".join(out) + "\n"


def _where(r: Any) -> str:
    """` (2 devices, 2 worker processes)` when the run had several of either."""
    parts = []
    if (r.device_count or 1) > 1:
        parts.append(f"{r.device_count} devices")
    if r.workers:
        parts.append(f"{len(r.workers)} worker process{'es' if len(r.workers) != 1 else ''}")
    return f" ({', '.join(parts)})" if parts else ""


def _sarif(report: Report) -> str:
    findings = [f for f, _ in report.items]
    try:
        from devlint.report import sarif

        log = sarif.log(findings)
    except Exception:
        log = {
            "version": "2.1.0",
            "runs": [{"tool": {"driver": {"name": "devlint"}}, "results": []}],
        }
    run = log["runs"][0]
    results = run.setdefault("results", [])
    for (_f, c), result in zip(report.items, results):
        result.setdefault("properties", {})["confirmation"] = c.as_dict()
    notes = []
    for e in report.missed:
        top = (e.get("frames") or [{}])[0]
        notes.append(
            {
                "level": "warning",
                "message": {
                    "text": f"MISSED BY STATIC {e.get('op')} [{', '.join(e.get('devices', []))}]: "
                    f"{e.get('message')}"
                },
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": _rel(top.get("path", ""))},
                            "region": {"startLine": top.get("line", 1)},
                        }
                    }
                ]
                if top
                else [],
            }
        )
    invocations = run.setdefault("invocations", [{"executionSuccessful": True}])
    if notes:
        invocations[0].setdefault("toolExecutionNotifications", []).extend(notes)
    invocations[0].setdefault("properties", {})["confirm"] = run_summary(report)
    return json.dumps(log, indent=2, ensure_ascii=True, default=str) + "\n"
