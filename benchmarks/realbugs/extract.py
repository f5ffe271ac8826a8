"""Extract the files of each real-bug case from local git snapshots.

Usage:
    python benchmarks/realbugs/extract.py OUT [--mirror /work/.mirror] [--cases cases.jsonl]
                                              [--id CASE_ID ...] [--split dev|held-out]

For every case in cases.jsonl this writes

    OUT/<case-id>/before/<repo paths>   the repository's files at the parent commit
    OUT/<case-id>/after/<repo paths>    the same set of paths at the fix commit

Which files: the buggy file itself, every other .py file of the top-level package that
contains it (the highest ancestor directory reached through a chain of __init__.py files,
e.g. `flair/` for flair/models/x.py, `src/peft/` for src/peft/tuners/lora.py), or, when the
file is not inside a package (a script under examples/, a top-level train.py), every .py
file of the script's own directory tree.  The top-level packages and modules that the buggy
file imports by absolute name (found at the repository root, under src/ or python/) are
added too, so that project-wide analysis sees the callees, and so are the repository's
root `pyproject.toml`, `setup.py` and `setup.cfg` (how devlint finds a project's root).  At most --max-files files per
side; a case that needs more is cut (with a warning) to the nearest files by path.

The snapshots are bare git directories as the `fetch` tool lays them out
(MIRROR/<owner>+<name>/repo, or .../repo/.git).  Blobs are read with one
`git cat-file --batch` process per repository and commit side; a blob missing from a
snapshot (large files are left out of snapshots) is skipped with a warning.  Nothing is
fetched from the network.
"""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
from pathlib import Path, PurePosixPath

HERE = Path(__file__).resolve().parent
SEARCH_ROOTS = ("", "src/", "python/", "lib/")
PROJECT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg")


def git_dir(mirror: Path, repo: str) -> Path:
    base = mirror / repo.replace("/", "+", 1) / "repo"
    return base / ".git" if (base / ".git").is_dir() else base


def ls_tree(gdir: Path, commit: str) -> list[str]:
    out = subprocess.run(
        ["git", "--git-dir", str(gdir), "ls-tree", "-r", "--name-only", "-z", commit],
        capture_output=True, check=True,
    ).stdout
    return [p.decode("utf-8", "surrogateescape") for p in out.split(b"\0") if p]


class BlobReader:
    """One `git cat-file --batch` process; read(commit, path) -> bytes | None."""

    def __init__(self, gdir: Path):
        self.proc = subprocess.Popen(
            ["git", "--git-dir", str(gdir), "cat-file", "--batch"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )

    def read(self, commit: str, path: str) -> bytes | None:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(f"{commit}:{path}\n".encode("utf-8", "surrogateescape"))
        self.proc.stdin.flush()
        header = self.proc.stdout.readline().decode().rstrip("\n")
        if header.endswith(" missing") or header.endswith(" ambiguous"):
            return None
        parts = header.split()
        size = int(parts[2])
        data = self.proc.stdout.read(size)
        self.proc.stdout.read(1)  # trailing newline
        return data

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait()


def package_root(files: set[str], path: str) -> str | None:
    parts = PurePosixPath(path).parts[:-1]
    root = None
    for i in range(len(parts), 0, -1):
        d = "/".join(parts[:i])
        if f"{d}/__init__.py" in files:
            root = d
        else:
            break
    return root


def imported_roots(source: bytes) -> set[str]:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def select_files(files: list[str], path: str, source: bytes | None, max_files: int) -> list[str]:
    fileset = set(files)
    py = [f for f in files if f.endswith(".py")]
    prefixes: set[str] = set()
    singles: set[str] = {path}
    root = package_root(fileset, path)
    if root is not None:
        prefixes.add(root + "/")
    else:
        parent = str(PurePosixPath(path).parent)
        prefixes.add("" if parent == "." else parent + "/")
    for name in imported_roots(source or b""):
        for base in SEARCH_ROOTS:
            if f"{base}{name}/__init__.py" in fileset:
                prefixes.add(f"{base}{name}/")
            elif f"{base}{name}.py" in fileset:
                singles.add(f"{base}{name}.py")
    chosen = set(singles)
    for f in py:
        for p in prefixes:
            if p == "":
                if "/" not in f:
                    chosen.add(f)
            elif f.startswith(p):
                chosen.add(f)
    ordered = sorted(chosen, key=lambda f: (f != path, _distance(path, f), f))
    if len(ordered) > max_files:
        print(f"warning: {path}: {len(ordered)} files, keeping the {max_files} nearest", file=sys.stderr)
        ordered = ordered[:max_files]
    return ordered


def _distance(a: str, b: str) -> int:
    pa, pb = PurePosixPath(a).parts[:-1], PurePosixPath(b).parts[:-1]
    common = 0
    for x, y in zip(pa, pb):
        if x != y:
            break
        common += 1
    return (len(pa) - common) + (len(pb) - common)


def extract_case(case: dict, mirror: Path, out: Path, max_files: int) -> dict:
    gdir = git_dir(mirror, case["repository"])
    if not gdir.is_dir():
        raise FileNotFoundError(f"no snapshot of {case['repository']} under {mirror}")
    parent, fix, path = case["parent_commit"], case["fix_commit"], case["path"]
    reader = BlobReader(gdir)
    try:
        files = ls_tree(gdir, parent)
        source = reader.read(parent, path)
        if source is None:
            raise FileNotFoundError(f"{case['id']}: {path} missing at {parent}")
        chosen = select_files(files, path, source, max_files)
        # the repository's own project markers: in a checkout they tell devlint where
        # the project's root is, so that a script under examples/ finds the package it
        # imports (a checkout also has `.git`, which the extraction cannot reproduce)
        chosen += [m for m in PROJECT_MARKERS if m in files and m not in chosen]
        stats = {"before": 0, "after": 0, "missing": 0}
        for side, commit in (("before", parent), ("after", fix)):
            dest = out / case["id"] / side
            for f in chosen:
                data = source if (side == "before" and f == path) else reader.read(commit, f)
                if data is None:
                    if side == "after" and f != path:
                        continue  # deleted or moved by the fix; not an error
                    print(f"warning: {case['id']}: {f} missing at {commit[:10]} ({side})", file=sys.stderr)
                    stats["missing"] += 1
                    continue
                target = dest / f
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
                stats[side] += 1
        return stats
    finally:
        reader.close()


def load_cases(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--mirror", type=Path, default=Path("/work/.mirror"))
    parser.add_argument("--cases", type=Path, default=HERE / "cases.jsonl")
    parser.add_argument("--id", action="append", help="only these case ids")
    parser.add_argument("--split", choices=["dev", "held-out"], help="only this split")
    parser.add_argument("--max-files", type=int, default=3000)
    args = parser.parse_args()
    cases = load_cases(args.cases)
    if args.id:
        cases = [c for c in cases if c["id"] in set(args.id)]
    if args.split:
        cases = [c for c in cases if c["split"] == args.split]
    failed = 0
    for case in cases:
        try:
            stats = extract_case(case, args.mirror, args.out, args.max_files)
        except (FileNotFoundError, subprocess.CalledProcessError) as exc:
            print(f"error: {case['id']}: {exc}", file=sys.stderr)
            failed += 1
            continue
        print(f"{case['id']}: {stats['before']} files before, {stats['after']} after"
              + (f", {stats['missing']} missing" if stats["missing"] else ""))
    if failed:
        sys.exit(f"{failed} case(s) could not be extracted")


if __name__ == "__main__":
    main()
