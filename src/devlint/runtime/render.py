"""Reports of `devlint confirm`: text, json, json-lines and sarif.

text        one line per finding: `path:line:col: CODE VERDICT message | runtime message
            [expected device, odd device]`, then one line per event no finding explains
            (`MISSED BY STATIC`), then a summary of the run.
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
from typing import Any

from devlint.runtime.confirm import CONFIRMED, VERDICTS, Report

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


def _text(report: Report) -> str:
    out: list[str] = []
    for f, c in report.items:
        line = f"{_rel(f.path)}:{f.line}:{f.col}: {f.code} {c.verdict} {f.message}"
        if c.verdict == CONFIRMED:
            where = ""
            if c.event is not None:
                top = (c.event.get("frames") or [{}])[0]
                if top:
                    where = f" at {_rel(top['path'])}:{top['line']}"
            line += f" | {c.message} [{', '.join(c.devices)}]{where}"
        else:
            line += f" | {c.message}"
        out.append(line)
    for e in report.missed:
        top = (e.get("frames") or [{}])[0]
        loc = f"{_rel(top['path'])}:{top['line']}" if top else "<unknown>"
        count = f" ({e.get('count')} times)" if e.get("count", 1) > 1 else ""
        out.append(
            f"{loc}: MISSED BY STATIC {e.get('op')} [{', '.join(e.get('devices', []))}]"
            f" {e.get('exception')}: {e.get('message')}{count}"
        )
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
        out.append(f"Confirmed on {r.device}: {summary}. The program {ending}.")
    for note in r.notes:
        out.append(f"note: {note}")
    return "\n".join(out) + "\n"


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
