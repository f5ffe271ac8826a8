"""A content-addressed cache of per-file results.

Key: devlint's version, the analysis options (rules, device names...) and the file's
bytes, hashed together, so any change to either misses.  Entries are JSON files under
`.devlint_cache/v1/<2 hex>/<hash>.json`, written through a temporary file and
`os.replace`, so concurrent runs never see half an entry; an entry that cannot be read
or decoded is ignored (and rewritten by this run), never an error.  The cache folder
carries a `CACHEDIR.TAG` (backup tools skip it) and a `.gitignore` of `*`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
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
        self._salt = f"{__version__}\0{options}\0".encode()
        self.hits = 0
        self.misses = 0
        self._ready = False

    def key(self, data: bytes) -> str:
        return hashlib.sha256(self._salt + data).hexdigest()

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
        with contextlib.suppress(OSError):
            self._prepare()
            target = self._path(key)
            target.parent.mkdir(parents=True, exist_ok=True)
            payload = json.dumps([_dump(f) for f in findings], separators=(",", ":"))
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


def _dump(finding: Finding) -> dict:
    out = {name: getattr(finding, name) for name in _FIELDS if name != "path"}
    return out


def _load(item: dict, display: str) -> Finding:
    values = {name: item[name] for name in _FIELDS if name in item and name != "path"}
    if isinstance(values.get("file_span"), list):
        values["file_span"] = tuple(values["file_span"])
    return Finding(path=display, **values)


def options_key(rule_codes: list[str], options: dict) -> str:
    """The analysis options that decide a file's findings, as one string for the key."""
    return repr((sorted(rule_codes), sorted((k, repr(v)) for k, v in options.items())))
