"""What a committed checkpoint holds, read without unpickling it.

A `torch.load` without `map_location` (DL008) fails only when the file holds tensors
saved on an accelerator and the loading machine has none.  When the code names the file
literally and the file is there (packaged weights, a tutorial's committed model), its
pickle says where every tensor was saved: each tensor's storage is a persistent id,
`('storage', <storage type>, <key>, <location>, ...)`, with a location such as `'cpu'`
or `'cuda:0'`.  This module walks the pickle's opcodes (`pickletools.genops`: it decodes
the stream and never builds or calls an object) in both of torch's formats: the zip
archive of torch 1.6 and later (`<name>/data.pkl`) and the legacy stream of pickles
(magic number, protocol, system information, then the object).

`settle` runs after the analysis and the cache, on the DL008 findings that name a file:
a file whose every storage is on the CPU (or that holds no tensors) loads anywhere, so
its finding is dropped; a file with accelerator storages makes the finding certain, and
its message says so.  Anything else (no such file, another format, a damaged or huge
pickle) leaves the finding as it is.  Read on every run, never cached: a checkpoint
saved again on a GPU changes the answer without changing any source file.
"""

from __future__ import annotations

import dataclasses
import io
import os
import pickletools
import re
import zipfile
from pathlib import Path
from typing import IO, Iterable, Optional

from devlint.findings import Finding

# a location torch writes for a storage: `cpu`, `cuda`, `cuda:1`, `mps`, `xpu:0`, `meta`...
_LOCATION = re.compile(r"[a-z_]+(?::\d+)?")
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
# the most pickle bytes read for one file (a state dict of 10,000 tensors has about
# 0.6 MB of them); larger or stranger files stay unknown
_MAX_PICKLE_BYTES = 32_000_000
# how far up from the source file's folder a working-directory-relative path is tried
_MAX_LEVELS = 6
_PROJECT_MARKERS = (".git", "pyproject.toml", "setup.py", "setup.cfg")
# the opcodes that take everything down to the last MARK off the stack
_TAKES_MARK = frozenset(
    (
        "TUPLE",
        "LIST",
        "DICT",
        "SETITEMS",
        "APPENDS",
        "ADDITEMS",
        "FROZENSET",
        "OBJ",
        "INST",
        "POP_MARK",
    )
)


@dataclasses.dataclass(frozen=True)
class Holds:
    """Where a checkpoint's tensors were saved: `locations`, without repeats, in the
    order first met (empty: the file holds no tensors)."""

    path: str
    locations: tuple[str, ...]

    @property
    def accelerator(self) -> Optional[str]:
        """The first location that is not the CPU, if any."""
        return next((loc for loc in self.locations if loc != "cpu"), None)


def read_locations(path: str) -> Optional[Holds]:
    """Where the tensors of the torch checkpoint at `path` were saved, or None when it is
    not a checkpoint this reader understands."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
            handle.seek(0)
            if head.startswith(b"PK\x03\x04"):
                found = _zip_locations(handle)
            else:
                found = _legacy_locations(handle)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError, IndexError):
        return None
    return Holds(path, tuple(dict.fromkeys(found))) if found is not None else None


def _zip_locations(handle: IO[bytes]) -> Optional[list[str]]:
    with zipfile.ZipFile(handle) as archive:
        pickles = [i for i in archive.infolist() if i.filename.endswith("/data.pkl")]
        if len(pickles) != 1 or pickles[0].file_size > _MAX_PICKLE_BYTES:
            return None
        data = archive.read(pickles[0])
    return _storage_locations(io.BytesIO(data))


def _legacy_locations(handle: IO[bytes]) -> Optional[list[str]]:
    """torch's format before 1.6: pickled magic number, protocol, system information,
    the object (its storages as persistent ids), then the storages' raw bytes."""
    magic = list(_opcodes(handle))
    if not any(arg == _LEGACY_MAGIC for _, arg in magic):
        return None
    for _ in range(2):  # the protocol version, the system information
        for _ in _opcodes(handle):
            pass
    return _storage_locations(handle)


def _opcodes(handle: IO[bytes]) -> Iterable[tuple[str, object]]:
    start = handle.tell()
    for op, arg, pos in pickletools.genops(handle):
        if pos is not None and pos - start > _MAX_PICKLE_BYTES:
            raise ValueError("pickle too large")
        yield op.name, arg


def _storage_locations(handle: IO[bytes]) -> Optional[list[str]]:
    """The location of every storage persistent id in one pickle.  Each id is a tuple
    built between a MARK and a TUPLE; its strings are `'storage'`, then the storage's
    key(s) and its location, with the storage type as a global (or, from protocol 4,
    two more strings, `'torch'` and the type's name).  Repeated strings come from the
    memo, so string values are memoised as the pickle stores them."""
    memo: dict[int, object] = {}
    frames: list[list[object]] = []
    last: object = None  # the value the previous opcode pushed, when a string
    tuple_strings: list[object] = []
    locations: list[str] = []
    for name, arg in _opcodes(handle):
        pushed: object = None
        if name in ("BINUNICODE", "SHORT_BINUNICODE", "UNICODE", "BINUNICODE8"):
            pushed = arg
        elif name in ("BINGET", "LONG_BINGET", "GET"):
            pushed = memo.get(int(arg))  # type: ignore[arg-type]
        elif name in ("BINPUT", "LONG_BINPUT", "PUT"):
            memo[int(arg)] = last  # type: ignore[arg-type]
        elif name == "MEMOIZE":
            memo[len(memo)] = last
        elif name == "MARK":
            frames.append([])
        elif name in _TAKES_MARK:
            frame = frames.pop() if frames else []
            if name == "TUPLE":
                tuple_strings = frame
        elif name == "PERSID":
            return None  # protocol 0: not what torch writes
        elif name == "BINPERSID":
            location = _storage_location(tuple_strings)
            if location is None:
                return None
            locations.append(location)
        if pushed is not None and frames:
            frames[-1].append(pushed)
        if name not in ("BINPUT", "LONG_BINPUT", "PUT", "MEMOIZE"):
            last = pushed
    return locations


def _storage_location(strings: list[object]) -> Optional[str]:
    if not strings or strings[0] != "storage":
        return None
    for value in strings[1:]:
        if isinstance(value, str) and not value.isdigit() and _LOCATION.fullmatch(value):
            if value in ("torch",) or value.endswith("Storage"):
                continue
            return value
    return None


def candidates(source_path: str, spec: tuple[str, str]) -> list[str]:
    """The files `spec` may name, for the source file at `source_path`: its own folder
    for a `__file__`-relative path; for one relative to the working directory, the
    source's folder and each folder above it up to the project's root (a folder with
    `.git`, `pyproject.toml` or `setup.py`), the places a program is usually run from."""
    base, written = spec
    if os.path.isabs(written):
        return [written]
    folder = Path(source_path).resolve().parent
    if base == "file":
        return [str(folder / written)]
    out = []
    for _ in range(_MAX_LEVELS):
        out.append(str(folder / written))
        if any((folder / marker).exists() for marker in _PROJECT_MARKERS):
            break
        if folder.parent == folder:
            break
        folder = folder.parent
    return out


def settle(findings: list[Finding]) -> list[Finding]:
    """Drop the DL008 findings whose named file loads anywhere; say so in the message of
    those whose file holds accelerator tensors.  A finding's path is taken from the
    working directory, as the command line shows it; where no file is found there (an
    editor's buffer shown by another name), the finding stays."""
    if not any(f.asset for f in findings):
        return findings
    read: dict[str, Optional[Holds]] = {}
    kept: list[Finding] = []
    for finding in findings:
        if not finding.asset:
            kept.append(finding)
            continue
        source = finding.path
        holds = []
        for path in candidates(source, (finding.asset[0], finding.asset[1])):
            if not os.path.isfile(path):
                continue
            if path not in read:
                read[path] = read_locations(path)
            holds.append(read[path])
        if not holds or any(h is None for h in holds):
            kept.append(finding)
            continue
        saved_on = next((h for h in holds if h is not None and h.accelerator), None)
        if saved_on is None:
            continue  # every candidate holds CPU tensors (or none): it loads anywhere
        shown = os.path.relpath(saved_on.path, os.path.dirname(os.path.abspath(source)))
        kept.append(
            dataclasses.replace(
                finding,
                message=f"{finding.message}; `{shown}` holds tensors saved on "
                f"`{saved_on.accelerator}`",
            )
        )
    return kept
