"""Glob patterns for `exclude`, `include`, `per-file-ignores` and `.gitignore` files.

One small matcher, with git's rules, so a pattern means the same thing in every place:

- `*` and `?` match within one path component, `[abc]`/`[!abc]` a character class;
- `**` matches any number of components (`**/x`, `a/**/b`, `a/**`);
- a pattern without `/` (other than a trailing one) matches a name at any depth: `build`
  matches `build` and `src/build`, `*.ipynb` every notebook;
- a pattern with a `/` inside or at the start is anchored to its base directory (the
  project root for configuration, the directory of a `.gitignore`): `/build` and
  `docs/*.py` match only there;
- a trailing `/` matches directories only.

Paths are matched in POSIX form (`/` separators), relative to the base directory.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Sequence


def _translate(pattern: str) -> str:
    """A glob (already stripped of leading `/` and trailing `/`) as a regular expression."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            if pattern.startswith("**", i):
                before_ok = i == 0 or pattern[i - 1] == "/"
                after = pattern[i + 2 : i + 3]
                if before_ok and after == "/":
                    out.append("(?:.*/)?")
                    i += 3
                    continue
                if before_ok and after == "":
                    out.append(".*")
                    i += 2
                    continue
                out.append("[^/]*")
                i += 2
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = i + 1
            if j < n and pattern[j] in "!^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 1
            if j >= n:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : j]
                if body[:1] in ("!", "^"):
                    body = "^" + body[1:]
                body = body.replace("\\", "\\\\")
                out.append(f"(?!/)[{body}]")
                i = j
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


@dataclass(frozen=True)
class Pattern:
    """One glob: `anchored` ones match the whole relative path, the others a name."""

    text: str
    regex: re.Pattern
    anchored: bool
    dir_only: bool
    negated: bool = False

    def matches(self, rel: str, is_dir: bool = False) -> bool:
        """True if `rel` (POSIX, relative to the base directory) matches."""
        if self.dir_only and not is_dir:
            return False
        if self.anchored:
            return self.regex.fullmatch(rel) is not None
        return self.regex.fullmatch(rel.rsplit("/", 1)[-1]) is not None


@lru_cache(maxsize=4096)
def compile_pattern(text: str, allow_negation: bool = False) -> Pattern:
    """Compile one glob (see the module docstring)."""
    negated = False
    if allow_negation and text.startswith("!"):
        negated, text = True, text[1:]
    body = text
    if body.startswith("./"):
        body = body[2:]
    dir_only = body.endswith("/") and not body.endswith("\\/")
    body = body.rstrip("/") if dir_only else body
    anchored = "/" in body
    body = body.lstrip("/")
    return Pattern(text, re.compile(_translate(body), re.DOTALL), anchored, dir_only, negated)


def relative(path: str, base: str) -> str | None:
    """`path` relative to `base` in POSIX form, or None if it is not inside `base`."""
    try:
        rel = os.path.relpath(os.path.abspath(path), os.path.abspath(base))
    except ValueError:  # another drive on Windows
        return None
    rel = rel.replace(os.sep, "/")
    if rel == ".." or rel.startswith("../"):
        return None
    return "" if rel == "." else rel


class PathSet:
    """A list of globs relative to one base directory: `exclude`, `include` and the like."""

    def __init__(self, patterns: Iterable[str], base: str) -> None:
        self.patterns = [compile_pattern(p) for p in patterns]
        self.base = os.path.abspath(base)

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def match_rel(self, rel: str, is_dir: bool = False) -> bool:
        return any(p.matches(rel, is_dir) for p in self.patterns)

    def matches(self, path: str, is_dir: bool = False) -> bool:
        """Does `path` itself match?  Outside the base only name patterns can match."""
        rel = relative(path, self.base)
        if rel is None:
            name = os.path.basename(os.path.normpath(path))
            return any(not p.anchored and p.matches(name, is_dir) for p in self.patterns)
        return bool(rel) and self.match_rel(rel, is_dir)

    def matches_path_or_parent(self, path: str) -> bool:
        """Does `path` or one of its parent directories (up to the base) match?"""
        full = os.path.abspath(path)
        rel = relative(full, self.base)
        if rel is None:
            parts = [p for p in full.replace(os.sep, "/").split("/") if p]
            return any(
                not p.anchored and p.matches(part, i < len(parts) - 1 or os.path.isdir(full))
                for i, part in enumerate(parts)
                for p in self.patterns
            )
        parts = rel.split("/") if rel else []
        for i in range(len(parts)):
            prefix = "/".join(parts[: i + 1])
            is_dir = i < len(parts) - 1 or os.path.isdir(full)
            if self.match_rel(prefix, is_dir):
                return True
        return False


def parse_gitignore(text: str) -> list[Pattern]:
    """The patterns of one `.gitignore` file, in order (later ones win)."""
    patterns = []
    for raw in text.splitlines():
        line = raw
        if not line.strip() or line.startswith("#"):
            continue
        # Trailing spaces are ignored unless escaped with a backslash.
        stripped = line.rstrip(" ")
        if stripped.endswith("\\") and len(stripped) < len(line):
            stripped += " "
        line = stripped
        if line.startswith("\\#") or line.startswith("\\!"):
            line = line[1:]
            patterns.append(compile_pattern(line))
            continue
        if line in ("!", "/"):
            continue
        patterns.append(compile_pattern(line, allow_negation=True))
    return patterns


class GitIgnore:
    """The `.gitignore` files (and `.git/info/exclude`) that apply below a directory."""

    def __init__(self, layers: Sequence[tuple[str, list[Pattern]]] = ()) -> None:
        # (base directory, patterns), outermost first.
        self.layers = list(layers)

    @classmethod
    def for_directory(cls, top: str) -> GitIgnore:
        """The ignore files of `top`'s repository that apply to `top` (and `top`'s own)."""
        top = os.path.abspath(top)
        root = find_git_root(top)
        layers: list[tuple[str, list[Pattern]]] = []
        if root is not None:
            exclude = os.path.join(root, ".git", "info", "exclude")
            layers.extend(_load(root, exclude))
            chain = []
            d = top
            while True:
                chain.append(d)
                if d == root:
                    break
                d = os.path.dirname(d)
            for d in reversed(chain):
                layers.extend(_load(d, os.path.join(d, ".gitignore")))
        else:
            layers.extend(_load(top, os.path.join(top, ".gitignore")))
        return cls(layers)

    def child(self, directory: str) -> GitIgnore:
        """These rules plus the `.gitignore` of `directory` (one level down a walk)."""
        extra = _load(os.path.abspath(directory), os.path.join(directory, ".gitignore"))
        return GitIgnore([*self.layers, *extra]) if extra else self

    def ignored(self, path: str, is_dir: bool) -> bool:
        full = os.path.abspath(path)
        result = False
        for base, patterns in self.layers:
            rel = relative(full, base)
            if not rel:
                continue
            for pattern in patterns:
                if pattern.matches(rel, is_dir):
                    result = not pattern.negated
        return result


def _load(base: str, path: str) -> list[tuple[str, list[Pattern]]]:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            patterns = parse_gitignore(fh.read())
    except OSError:
        return []
    return [(base, patterns)] if patterns else []


def find_git_root(start: str) -> str | None:
    """The nearest directory at or above `start` that holds `.git` (a directory or file)."""
    d = os.path.abspath(start)
    while True:
        if os.path.exists(os.path.join(d, ".git")):
            return d
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent
