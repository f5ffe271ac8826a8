"""A content-addressed cache of per-file results.

Key: a fingerprint of the analysis (the source of devlint's engine, rules and checker,
the LibCST release that parses and Python's, whose compiler decides DL000), the analysis
options (rules, device names...) and the file's bytes, hashed together, so any change to
either misses: no run is ever answered with an older engine's findings.  Entries are JSON files under
`.devlint_cache/v1/<2 hex>/<hash>.json`, written through a temporary file and
`os.replace`, so concurrent runs never see half an entry; an entry that cannot be read
or decoded is ignored (and rewritten by this run), never an error.  The cache folder
carries a `CACHEDIR.TAG` (backup tools skip it) and a `.gitignore` of `*`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Optional

from devlint import __version__
from devlint.findings import Finding

CACHE_DIR_NAME = ".devlint_cache"
_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by devlint.\n"
    "# For information about cache directory tags see https://bford.info/cachedir/\n"
)
_FIELDS = [f.name for f in dataclasses.fields(Finding)]


class Cache:
    def __init__(self, root: Path, options: str) -> None:
        self.root = root
        self.options = options
        # what besides the file's bytes decides its findings
        self._salt = f"{engine_fingerprint()}\0{options}\0".encode()
        self.hits = 0
        self.misses = 0
        self._ready = False

    def key(self, data: bytes, role: str = "") -> str:
        """The entry of a file's bytes; `role` (library code or a script, from the file's
        place: `devlint.roles`) decides findings too."""
        import hashlib  # loaded with the cache (OpenSSL): a `--no-cache` run never needs it

        return hashlib.sha256(self._salt + role.encode() + b"\0" + data).hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / "v1" / key[:2] / f"{key}.json"

    def get(self, key: str, display: str) -> Optional[list[Finding]]:
        try:
            raw = json.loads(self._path(key).read_text(encoding="utf-8"))
            findings = [_load(item, display) for item in raw]
        except (OSError, ValueError, TypeError, KeyError):
            self.misses += 1
            return None
        self.hits += 1
        return findings

    def put(self, key: str, findings: list[Finding]) -> None:
        """Store an entry; a cache that cannot be written is silently skipped."""
        self.put_raw(key, [_dump(f) for f in findings])

    def get_raw(self, key: str) -> Optional[object]:
        """A JSON entry other than findings (a module's summary), not counted as a hit."""
        try:
            return json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def put_raw(self, key: str, value: object) -> None:
        with contextlib.suppress(OSError):
            self._prepare()
            target = self._path(key)
            target.parent.mkdir(parents=True, exist_ok=True)
            payload = json.dumps(value, separators=(",", ":"))
            import tempfile  # only runs that write entries need it

            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".json")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(payload)
                os.replace(tmp, target)
            except OSError:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise

    def _prepare(self) -> None:
        if self._ready:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        tag = self.root / "CACHEDIR.TAG"
        if not tag.exists():
            tag.write_text(_TAG, encoding="utf-8")
        ignore = self.root / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# Created by devlint automatically.\n*\n", encoding="utf-8")
        self._ready = True


# what decides a file's findings besides its bytes and the options: these modules' source
_PACKAGE = Path(__file__).resolve().parent
_ANALYSIS_SOURCES = (
    "engine",
    "rules",
    "project.py",
    "runner.py",
    "checker.py",
    "positions.py",
    "prefilter.py",
    "suppression.py",
    "notebooks.py",
    "findings.py",
    "meta_rules.py",
)
_fingerprint: Optional[str] = None


def engine_fingerprint() -> str:
    """A hash of the analysis: devlint's version, the source of every module that
    decides findings, the LibCST release (its version file, found without importing
    LibCST, which a warm run never loads) and Python's version.  Computed once a run."""
    global _fingerprint
    if _fingerprint is None:
        import hashlib

        digest = hashlib.sha256(f"{__version__}\0{sys.version}\0".encode())
        for name in _ANALYSIS_SOURCES:
            path = _PACKAGE / name
            files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
            for file in files:
                digest.update(file.relative_to(_PACKAGE).as_posix().encode() + b"\0")
                with contextlib.suppress(OSError):
                    digest.update(file.read_bytes())
        spec = importlib.util.find_spec("libcst")
        if spec is not None and spec.origin is not None:
            with contextlib.suppress(OSError):
                digest.update((Path(spec.origin).parent / "_version.py").read_bytes())
        _fingerprint = digest.hexdigest()
    return _fingerprint


def _dump(finding: Finding) -> dict:
    out = {name: getattr(finding, name) for name in _FIELDS if name != "path"}
    return out


def _load(item: dict, display: str) -> Finding:
    values = {name: item[name] for name in _FIELDS if name in item and name != "path"}
    for name in ("file_span", "asset", "also_lines"):
        if isinstance(values.get(name), list):
            values[name] = tuple(values[name])
    return Finding(path=display, **values)


def options_key(rule_codes: list[str], options: dict) -> str:
    """The analysis options that decide a file's findings, as one string for the key."""
    return repr((sorted(rule_codes), sorted((k, repr(v)) for k, v in options.items())))
