"""Compare `devlint confirm` on a real GPU with the emulated accelerator, per finding.

`benchmarks/gpu_check.sh` runs this; see it for the whole procedure.  Subcommands:

    python benchmarks/gpu_check.py half --device cuda|emulated --out FILE.json [--jobs N]
        [--only SUBSTRING ...]
    python benchmarks/gpu_check.py compare CUDA.json EMULATED.json [--table FILE.md]
    python benchmarks/gpu_check.py synthetic EMULATED.json --out CUDA.json [--perturb]

`half` runs every fixture on one device, as `tests/test_runtime_fixtures.py` does: each
buggy fixture with `--keep-going --max-batches 1` (DL002 fixtures with no accelerator,
`--device cpu`, on both halves), each clean one with `--max-batches 1`; it writes one
record per `# expect:` line of the buggy fixtures (verdict, exception type, device pair,
operation of the linked event) and one per clean fixture (status, events).

`compare` prints a table and exits 1 when the two halves disagree on any record: the
verdict, the exception type, the pair of devices (in either order), or the operation.  The operation is the
program's torch call in progress (`torch.nn.functional.linear`, `Tensor.__add__`), which
both modes see the same way; the ATen operator the emulation checks (`aten::addmm`) and the
exact error text vary between torch releases and are not compared.

`synthetic` makes a stand-in for the CUDA half from an emulated one (the same records,
`--perturb` changes one), so the comparison can be tested where there is no GPU.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parent.parent
FIELDS = ("verdict", "exception", "devices", "op")


def _event_fields(event: Optional[dict[str, Any]]) -> dict[str, Any]:
    if not event:
        return {"exception": None, "devices": None, "op": None}
    return {
        "exception": event.get("exception") or None,
        "devices": list(event.get("devices") or []),
        "op": event.get("call") or event.get("op"),
    }


def run_half(device: str, jobs: int, only: list[str]) -> dict[str, Any]:
    """Every fixture on `device` (see the module docstring): {"records": {key: record}}."""
    sys.path.insert(0, str(ROOT))  # tests.fixture_expectations
    from tests.fixture_expectations import expectations, fixture_files

    from devlint.runtime.confirm import (
        Options,
        Program,
        confirm_findings,
        files_that_ran,
        run_many,
        static_findings,
    )

    def wanted(path: Path) -> bool:
        return not only or any(s in path.name for s in only)

    buggy = [p for p in fixture_files("buggy") if wanted(p)]
    clean = [p for p in fixture_files("clean") if wanted(p)]
    plan: list[tuple[str, Path, Options]] = []
    for path in buggy:
        dev = "cpu" if path.name.startswith("dl002") else device
        plan.append(("buggy", path, Options(dev, keep_going=True, max_batches=1, timeout=120)))
    for path in clean:
        plan.append(("clean", path, Options(device, max_batches=1, timeout=120)))
    started = time.monotonic()
    programs = [Program(script=str(p)) for _, p, _ in plan]
    if device == "emulated":
        results = run_many(programs, [o for *_, o in plan], jobs)
    else:
        # A fresh process per program on a real GPU: `run_many` forks from a process that
        # imported torch, and CUDA must never have been initialised before a fork.
        from concurrent.futures import ThreadPoolExecutor
        from dataclasses import replace

        from devlint.runtime.confirm import run

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            results = list(
                pool.map(
                    lambda item: run(
                        item[0],
                        # in the script's folder, as `run_many` runs it
                        replace(item[1], quiet_program=True, cwd=str(Path(item[0].script).parent)),
                    ),
                    zip(programs, [o for *_, o in plan]),
                )
            )
    records: dict[str, dict[str, Any]] = {}
    programs_run: dict[str, dict[str, Any]] = {}
    torch_version = None
    for (kind, path, _), result in zip(plan, results):
        torch_version = torch_version or result.torch_version
        # How each program ended (not compared): what explains a disagreement.
        programs_run[f"{kind}/{path.name}"] = {
            "status": result.status,
            "exception": result.exception,
            "events": len(result.events),
            "notes": result.notes[:5],
            "output_tail": (result.output or "")[-800:] if result.status != "ok" else "",
        }
        if kind == "clean":
            # A load without map_location that did not fail is recorded, and is no error
            # (as in tests/test_runtime_fixtures.py): only the errors count here.
            errors = [
                e
                for e in result.events
                if not (e.get("kind") == "load" and e.get("outcome") != "failed")
            ]
            records[f"clean/{path.name}"] = {
                "verdict": "ran clean"
                if result.status == "ok" and not errors
                else f"{result.status}, {len(errors)} device errors",
                "exception": sorted({e.get("exception") or "" for e in errors}) or None,
                "devices": sorted({"/".join(sorted(e.get("devices") or [])) for e in errors})
                or None,
                "op": sorted({e.get("call") or e.get("op") for e in errors}) or None,
            }
            continue
        items, missed = confirm_findings(
            static_findings(files_that_ran(result, Program(script=str(path))), select=["ALL"]), result
        )
        verdicts = {(f.code, f.line): c for f, c in items}
        for code, line in sorted(expectations(path)):
            conf = verdicts.get((code, line))
            record = {"verdict": conf.verdict if conf else "NO STATIC FINDING"}
            record.update(_event_fields(conf.event if conf else None))
            records[f"{path.name}:{line} {code}"] = record
        for event in missed:
            top = (event.get("frames") or [{}])[0]
            records[f"{path.name}:{top.get('line')} missed"] = {
                "verdict": "MISSED BY STATIC",
                **_event_fields(event),
            }
    return {
        "device": device,
        "torch": torch_version,
        "seconds": round(time.monotonic() - started, 1),
        "records": records,
        "programs": programs_run,
    }


def compare(cuda: dict[str, Any], emulated: dict[str, Any]) -> tuple[list[str], int]:
    """The table (markdown lines) and the number of records that disagree."""
    a, b = cuda.get("records", {}), emulated.get("records", {})
    rows = [
        f"cuda: torch {cuda.get('torch')}, {cuda.get('seconds')} s; "
        f"emulated: torch {emulated.get('torch')}, {emulated.get('seconds')} s",
        "",
        "| fixture:line rule | verdict (cuda / emulated) | exception | devices | operation | agree |",
        "|---|---|---|---|---|---|",
    ]
    bad = 0
    for key in sorted(set(a) | set(b)):
        ra, rb = a.get(key), b.get(key)
        if ra is None or rb is None:
            bad += 1
            rows.append(f"| {key} | only on {'emulated' if ra is None else 'cuda'} | | | | NO |")
            continue
        cells = []
        differ = [f for f in FIELDS if _comparable(f, ra.get(f)) != _comparable(f, rb.get(f))]
        for f in FIELDS:
            va, vb = _cell(ra.get(f)), _cell(rb.get(f))
            cells.append(va if va == vb else f"{va} / {vb}")
        bad += bool(differ)
        rows.append(
            f"| {key} | {' | '.join(cells)} | {'NO: ' + ', '.join(differ) if differ else 'yes'} |"
        )
    rows.append("")
    rows.append(f"{len(set(a) | set(b))} records, {bad} disagreeing")
    return rows, bad


def _comparable(name: str, value: Any) -> Any:
    """The pair of devices is compared as a pair: which one an event names first (the
    expected device under the emulation, the accelerator on a real one) is no fact."""
    if name == "devices" and isinstance(value, list):
        return sorted(value)
    return value


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "-"
    return str(value).replace("|", "\\|")


def synthetic(emulated: dict[str, Any], perturb: bool) -> dict[str, Any]:
    """A CUDA half made of the emulated one (for testing the comparison without a GPU)."""
    out = json.loads(json.dumps(emulated))
    out["device"] = "cuda (synthetic)"
    if perturb:
        for record in out["records"].values():
            if record.get("devices"):
                record["devices"] = [*record["devices"][:-1], "cuda:7"]
                break
        else:
            first = next(iter(out["records"].values()), None)
            if first is not None:
                first["verdict"] = "REFUTED"
    return out


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    half = sub.add_parser("half")
    half.add_argument("--device", required=True)
    half.add_argument("--out", type=Path, required=True)
    half.add_argument("--jobs", type=int, default=4)
    half.add_argument("--only", nargs="*", default=[])
    cmp_ = sub.add_parser("compare")
    cmp_.add_argument("cuda", type=Path)
    cmp_.add_argument("emulated", type=Path)
    cmp_.add_argument("--table", type=Path)
    syn = sub.add_parser("synthetic")
    syn.add_argument("emulated", type=Path)
    syn.add_argument("--out", type=Path, required=True)
    syn.add_argument("--perturb", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "half":
        data = run_half(args.device, args.jobs, args.only)
        args.out.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
        print(f"{args.device}: {len(data['records'])} records in {data['seconds']} s")
        return 0
    if args.command == "synthetic":
        data = synthetic(json.loads(args.emulated.read_text(encoding="utf-8")), args.perturb)
        args.out.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
        return 0
    cuda = json.loads(args.cuda.read_text(encoding="utf-8"))
    emulated = json.loads(args.emulated.read_text(encoding="utf-8"))
    rows, bad = compare(cuda, emulated)
    text = "\n".join(rows) + "\n"
    print(text, end="")
    if args.table:
        args.table.write_text(text, encoding="utf-8")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
