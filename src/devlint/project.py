"""Project-wide facts: which module a file is, where its imports lead, what they say.

Each module's analysis leaves a summary (`engine.summary`: its classes, the modules and
devices its functions return, its device constants, its imports) and the imported names
it looked up.  This module resolves those names to the project's own modules (absolute
and relative imports, packages and `src/` layouts, re-exports through `__init__.py`,
`from m import *` with `__all__`, import cycles) and hands the facts found to a second
analysis of the importer (`runner`).

Names are looked up from a file's *roots*: the folder above its top-level package (or its
own folder, for a loose script, which imports its neighbours), and the project's root
(the nearest folder above with `pyproject.toml`, `setup.py`, `setup.cfg` or `.git`) and
its `src/`.  A module outside the run (a pre-commit run passes only the staged files; an
editor has one buffer) is summarised on demand (`Project.load`), so a file's findings
do not depend on which other files were named.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Optional, TypeVar

from devlint.roles import LIBRARY, SCRIPT, is_test_path

_PROJECT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", ".git")
CALLERS = "@callers:"  # as `engine.summary.CALLERS` (not imported: a warm run loads no engine)
DEFAULT_DEVICE = "@default-device"  # as `engine.default_device.DEFAULT_DEVICE`
UNCALLED = "@uncalled"  # as `engine.summary.UNCALLED`
# a call (not in a comment, not a `def`) of `torch.set_default_device(<not the CPU>)` or
# `torch.set_default_tensor_type(<a CUDA type>)`
_SETS_DEFAULT_DEVICE = re.compile(
    rb"^(?![ \t]*def\b)[ \t]*[^#\n]*?\bset_default_device\(\s*(?![\"']cpu[\"']\s*\))[^)\s]"
    rb"|^(?![ \t]*def\b)[ \t]*[^#\n]*?\bset_default_tensor_type\(\s*[\"']?torch\.cuda\.",
    re.MULTILINE,
)
_MAX_DEPTH = 12  # re-exports followed at most this deep (and never in a cycle)


@dataclass(frozen=True)
class Identity:
    """`name`: the dotted module name (`pkg.sub.m`, `train` for a loose script);
    `package`: where relative imports start; `roots`: where its imports are looked up."""

    name: str
    package: str
    roots: tuple[str, ...]
    top: str = ""  # the project's root folder (where its importers are looked for)


@lru_cache(maxsize=8192)
def _is_package(folder: str) -> bool:
    return os.path.isfile(os.path.join(folder, "__init__.py"))


@lru_cache(maxsize=4096)
def _project_root(folder: str) -> Optional[str]:
    current = folder
    for _ in range(32):
        if any(os.path.exists(os.path.join(current, m)) for m in _PROJECT_MARKERS):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent
    return None


@lru_cache(maxsize=8192)
def identify(path: str) -> Identity:
    """The module a file is, from the packages (folders with `__init__.py`) around it."""
    full = os.path.abspath(path)
    folder, base = os.path.split(full)
    stem = base[:-3] if base.endswith(".py") else base
    parts = [] if stem == "__init__" else [stem]
    own = folder
    while _is_package(folder):
        parts.insert(0, os.path.basename(folder))
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    name = ".".join(parts)
    if stem == "__init__":
        package = name
    else:
        package = name.rsplit(".", 1)[0] if "." in name else ""
    roots = [folder]
    if own != folder:
        roots.append(own)
    top = _project_root(folder)
    if top is not None:
        for extra in (top, os.path.join(top, "src")):
            if extra not in roots and os.path.isdir(extra):
                roots.append(extra)
    return Identity(name, package, tuple(roots), top or folder)


@lru_cache(maxsize=16384)
def _module_file(root: str, module: str) -> Optional[str]:
    base = os.path.join(root, *module.split("."))
    for candidate in (base + ".py", os.path.join(base, "__init__.py")):
        if os.path.isfile(candidate):
            return os.path.normpath(candidate)
    return None


def locate(module: str, roots: tuple[str, ...]) -> Optional[str]:
    """The file of a dotted module name, looked up from `roots` in order."""
    if not module or any(not part.isidentifier() for part in module.split(".")):
        return None
    for root in roots:
        found = _module_file(root, module)
        if found is not None:
            return found
    return None


def _module_and_name(qname: str, roots: tuple[str, ...]) -> Optional[tuple[str, str]]:
    """`pkg.models.Net` -> (the file of `pkg.models`, `Net`): the longest prefix that is
    a module of the project, and one name in it (an attribute of a class or of an object
    in a module, `pkg.models.Net.build`, is not followed)."""
    parts = qname.split(".")
    for i in range(len(parts) - 1, 0, -1):
        path = locate(".".join(parts[:i]), roots)
        if path is None:
            continue
        return (path, parts[i]) if len(parts) - i == 1 else None
    return None


Summary = dict[str, Any]
T = TypeVar("T")


class Project:
    """The summaries of the modules a run knows, and the facts they give importers.

    `summaries`: by normalised absolute path, the modules of the run; `load(path)`: the
    summary of any other module (from the cache, or computed), or None."""

    def __init__(
        self,
        summaries: dict[str, Optional[Summary]],
        load: Callable[[str], Optional[Summary]],
    ) -> None:
        self.summaries = dict(summaries)
        self._load = load
        self._resolved: dict[tuple[str, tuple[str, ...]], Optional[dict]] = {}
        self._texts: dict[str, list[tuple[str, bytes]]] = {}  # project root -> its files
        self._setters: dict[str, Optional[str]] = {}  # project root -> `default_device_setter`

    def summary(self, path: str) -> Optional[Summary]:
        if path not in self.summaries:
            self.summaries[path] = self._load(path)
        return self.summaries[path]

    def facts_for(self, path: str, asked: list[str]) -> tuple[tuple[str, str], ...]:
        """The facts a file's analysis gets from the rest of the project, encoded for
        `EngineOptions.project` (empty when the project says nothing): what the imported
        names it asked about are, and which of its functions' parameters its importers
        pass placed tensors ("@callers:" facts)."""
        roots = identify(path).roots
        found: dict[str, dict] = {}
        for name in asked:
            fact = self.resolve(name, roots)
            if fact is not None:
                found[name] = fact
        for fname, said in self.callers_of(path).items():
            found[f"{CALLERS}{fname}"] = said
        if (self.summary(path) or {}).get("implicit"):
            setter = self.default_device_setter(identify(path).top)
            if setter is not None:
                found[DEFAULT_DEVICE] = {"set_in": setter}
        uncalled = self.uncalled(path)
        if uncalled:
            found[UNCALLED] = {"names": uncalled}
        return encode_facts(found)

    def uncalled(self, path: str) -> list[str]:
        """The helpers of script module `path` that nothing calls: its summary's `unused`
        (functions and methods its own code never names again) that no other module of
        the project names along with the module (`from datasets import prep` then
        `prep(...)`).  Dead code in a closed world: nothing can hand their parameters
        an accelerator tensor (a copied pipeline method no pipeline step calls)."""
        summary = self.summary(path) or {}
        names = summary.get("unused") or []
        if not names or summary.get("role") != SCRIPT:
            return []
        stem = os.path.splitext(os.path.basename(path))[0]
        if stem == "__init__":
            return []
        top = identify(path).top
        word = re.escape(stem.encode())
        # `import stem`, `from pkg.stem import f`, `from pkg import stem` (a docstring
        # naming the module for a dynamic loader does not import what it calls)
        imports = re.compile(
            rb"^[ \t]*(?:import[ \t][^\n]*\b" + word + rb"\b"
            rb"|from[ \t]+[\w.]*\b" + word + rb"\b"
            rb"|from[ \t]+[\w.]+[ \t]+import[ \t][^\n]*\b" + word + rb"\b"
            rb"|from[ \t]+[\w.]+[ \t]+import[ \t]*\([^)]*\b" + word + rb"\b)",
            re.MULTILINE,
        )
        importers = [
            data
            for other, data in self._project_texts(top)
            if other != path and stem.encode() in data and imports.search(data)
        ]
        return [n for n in names if not any(n.encode() in data for data in importers)]

    def default_device_setter(self, top: str) -> Optional[str]:
        """The first file of the project (by path, relative to its root) that makes an
        accelerator the default device, or None: the project's code may then be written
        for the default device (`engine.default_device`)."""
        if top not in self._setters:
            self._setters[top] = None
            for other, data in self._project_texts(top):
                if b"set_default_" in data and _SETS_DEFAULT_DEVICE.search(data):
                    self._setters[top] = os.path.relpath(other, top).replace(os.sep, "/")
                    break
        return self._setters[top]

    def callers_of(self, path: str) -> dict[str, dict[str, Any]]:
        """What the project's other modules pass the functions of module `path`, for the
        functions its analysis left undecided: `params`, for a parameter that only a
        placed argument makes a finding (its summary's `conditional`), the first module
        (by path, relative to the project's root) that passes it a placed tensor; `fed`,
        for a parameter whose finding stands because no call in its own file feeds it
        (`open`), the kinds of argument the project's calls pass it (`placed`, `host`,
        `other`): data on the host by design (`calls.passed_kind`), or any CPU tensor
        where the caller is library code.  Test modules count only where they pass a
        placed tensor: they feed CPU data because their CI has no accelerator, not
        because the helper is data-side code.  Importers are looked for in the whole
        project, whatever files the run names, so a file's findings do not depend on
        it."""
        summary = self.summary(path) or {}
        conditional = summary.get("conditional") or {}
        open_params = summary.get("open") or {}
        if not conditional and not open_params:
            return {}
        top = identify(path).top
        out: dict[str, dict[str, Any]] = {}
        fed: dict[str, dict[str, set[str]]] = {}  # function -> parameter -> kinds
        for other in self._importers(top, path, sorted({*conditional, *open_params})):
            theirs = self.summary(other)
            if not theirs:
                continue
            roots = identify(other).roots
            caller = os.path.relpath(other, top).replace(os.sep, "/")
            for qname, keys in sorted((theirs.get("calls") or {}).items()):
                found = self.definition(qname, roots)
                if found is None or found[0] != path or found[1] not in conditional:
                    continue
                fname = found[1]
                params = conditional[fname]["params"]
                for key in keys:
                    name = params[int(key)] if key.isdigit() and int(key) < len(params) else key
                    if name in conditional[fname]["placed"]:
                        out.setdefault(fname, {}).setdefault("params", {}).setdefault(name, caller)
            testing = is_test_path(caller)
            # the project's own library code feeding a helper CPU tensors makes it
            # data-side code; a script or an example may just be demonstrating it on the
            # CPU: only host copies and data-pipeline code count there
            library = theirs.get("role") == LIBRARY
            for qname, calls in sorted((theirs.get("fed") or {}).items()):
                found = self.definition(qname, roots)
                if found is None or found[0] != path or found[1] not in open_params:
                    continue
                entry = open_params[found[1]]
                for pname in entry["open"]:
                    index = str(entry["params"].index(pname)) if pname in entry["params"] else ""
                    for call in calls:
                        # an argument left out is the default: not known to be CPU data
                        kind = call.get(index) or call.get(pname) or "other"
                        if kind == "cpu":
                            kind = "host" if library else "other"
                        if not testing or kind == "placed":
                            fed.setdefault(found[1], {}).setdefault(pname, set()).add(kind)
        for fname, kinds_of in fed.items():
            out.setdefault(fname, {})["fed"] = {p: sorted(k) for p, k in kinds_of.items()}
        return out

    def _importers(self, top: str, path: str, names: list[str]) -> list[str]:
        """The project's files that may call one of `names` of module `path`: their text
        names the function (a cheap test before their summaries are read).  The files
        are read once per run."""
        texts = self._project_texts(top)
        wanted = [n.encode() for n in names]
        return [o for o, data in texts if o != path and any(w in data for w in wanted)]

    def _project_texts(self, top: str) -> list[tuple[str, bytes]]:
        """The project's files and their bytes, read once per run."""
        texts = self._texts.get(top)
        if texts is None:
            texts = self._texts[top] = []
            for other in _project_files(top):
                try:
                    with open(other, "rb") as fh:
                        texts.append((other, fh.read()))
                except OSError:
                    continue
        return texts

    def definition(self, qname: str, roots: tuple[str, ...]) -> Optional[tuple[str, str]]:
        """The module file and name that define an imported function (re-exports and
        star imports followed), or None."""
        found = _module_and_name(qname, roots)
        return self._defined(*found, 0, set()) if found is not None else None

    def _defined(
        self, path: str, name: str, depth: int, seen: set[tuple[str, str]]
    ) -> Optional[tuple[str, str]]:
        def own(summary: Summary) -> Optional[tuple[str, str]]:
            if (
                name in (summary.get("conditional") or {})
                or name in (summary.get("open") or {})
                or name in summary["functions"]
            ):
                return path, name
            return None

        return self._follow(path, name, depth, seen, own, self._defined)

    def resolve(self, qname: str, roots: tuple[str, ...]) -> Optional[dict]:
        key = (qname, roots)
        if key not in self._resolved:
            self._resolved[key] = None  # a cycle resolves to nothing
            self._resolved[key] = self._resolve(qname, roots, 0)
        return self._resolved[key]

    def _resolve(self, qname: str, roots: tuple[str, ...], depth: int) -> Optional[dict]:
        if depth > _MAX_DEPTH:
            return None
        found = _module_and_name(qname, roots)
        return self._lookup(*found, depth + 1, set()) if found is not None else None

    def _lookup(
        self, path: str, name: str, depth: int, seen: set[tuple[str, str]]
    ) -> Optional[dict]:
        """What module `path` binds `name` to: its own class, function or constant, or
        what it imports under that name (followed), or what a star import gives it."""

        def own(summary: Summary) -> Optional[dict]:
            if name in summary["classes"]:
                return self._class_fact(path, name, depth, seen)
            if name in summary["functions"]:
                return {"t": "function", **summary["functions"][name]}
            if name in summary["constants"]:
                return {"t": "constant", **summary["constants"][name]}
            return None

        return self._follow(path, name, depth, seen, own, self._lookup)

    def _follow(
        self,
        path: str,
        name: str,
        depth: int,
        seen: set[tuple[str, str]],
        own: Callable[[Summary], Optional[T]],
        again: Callable[[str, str, int, set[tuple[str, str]]], Optional[T]],
    ) -> Optional[T]:
        """How module `path` binds `name`: `own` of its summary for its own definitions,
        else (through `again`, at the module they lead to) what it imports under that
        name, or what one of its star imports exports under it.  Depth-bounded; a cycle
        of imports binds nothing."""
        if depth > _MAX_DEPTH or (path, name) in seen:
            return None
        seen.add((path, name))
        summary = self.summary(path)
        if summary is None:
            return None
        found = own(summary)
        if found is not None:
            return found
        roots = identify(path).roots
        target = summary["aliases"].get(name)
        if target is not None:
            where = _module_and_name(target, roots)
            return again(*where, depth + 1, seen) if where is not None else None
        for star in summary["stars"]:
            star_path = locate(star, roots)
            star_summary = self.summary(star_path) if star_path is not None else None
            if star_path is None or star_summary is None or not _exported(star_summary, name):
                continue
            found = again(star_path, name, depth + 1, seen)
            if found is not None:
                return found
        return None

    def _class_fact(self, path: str, name: str, depth: int, seen: set) -> Optional[dict]:
        """A class with what its bases (in the project) add: a module class's subclass is
        a module; a base that places or moves its state makes the subclass's place
        unknown too."""
        summary = self.summary(path)
        assert summary is not None
        own = summary["classes"][name]
        fact = {
            "t": "class",
            "module": bool(own["module"]),
            "stateless": bool(own["stateless"]),
            "to": bool(own["to"]),
            "places": bool(own["places"]),
            "moves": bool(own["moves"]),
            "layers": bool(own.get("layers")),
            "wraps": bool(own.get("wraps")),
            "adapts": bool(own.get("adapts")),
        }
        roots = identify(path).roots

        def find(name: str) -> Optional[dict]:
            if "." not in name and name in summary["classes"]:
                return self._lookup(path, name, depth + 1, seen)
            return self._resolve(name, roots, depth + 1)

        returns: dict[str, Any] = {}
        for base in own["bases"]:
            found = find(base)
            if found is None or found.get("t") != "class":
                continue
            for key in ("module", "to", "places", "moves", "layers", "wraps", "adapts"):
                fact[key] = fact[key] or found.get(key, False)
            for method, entry in found.get("returns", {}).items():
                returns.setdefault(method, entry)
            if found["module"] and not found["stateless"]:
                fact["stateless"] = False
        for built in own.get("builds", ()):
            found = find(built)
            if found is not None and found.get("t") == "class" and found.get("layers"):
                fact["layers"] = True  # a layer of its own built from another class
        if own.get("moves_args"):
            fact["moves_args"], fact["params"] = own["moves_args"], own["params"]
        returns.update(own.get("returns", {}))  # its own methods override its bases'
        if any(returns.values()):
            fact["returns"] = returns
        if not fact["module"] and not own.get("moves_args") and "returns" not in fact:
            return None  # nothing that changes what an importer's analysis sees
        return fact


# folders that hold no module of the project (environments, caches, build output)
_SKIP_DIRS = frozenset(
    {"__pycache__", "node_modules", "site-packages", "build", "dist", ".devlint_cache"}
)


@lru_cache(maxsize=256)
def _project_files(top: str) -> tuple[str, ...]:
    """Every `.py` file of the project under `top` (hidden folders, virtual
    environments and caches left out), sorted."""
    out = []
    for folder, dirs, files in os.walk(top):
        dirs[:] = [
            d
            for d in dirs
            if not d.startswith(".")
            and d not in _SKIP_DIRS
            and not os.path.isfile(os.path.join(folder, d, "pyvenv.cfg"))
        ]
        out.extend(os.path.join(folder, f) for f in files if f.endswith(".py"))
    return tuple(sorted(os.path.normpath(p) for p in out))


def _exported(summary: Summary, name: str) -> bool:
    """Whether `from m import *` takes `name` from a module."""
    names = summary.get("all")
    if names is not None:
        return name in names
    return not name.startswith("_")


def facts_digest(facts: tuple[tuple[str, str], ...]) -> str:
    """A short, stable key of the facts a file was analysed with (part of its cache key)."""
    if not facts:
        return ""
    digest = hashlib.sha256()
    for name, text in facts:
        digest.update(name.encode() + b"\0" + text.encode() + b"\0")
    return digest.hexdigest()[:32]


def encode_facts(facts: dict[str, dict]) -> tuple[tuple[str, str], ...]:
    """Facts as sorted `(qualified name, json)` pairs: hashable, stable, picklable (the
    form `EngineOptions.project` takes; `engine.summary.decode_facts` reads it)."""
    return tuple(
        sorted(
            (name, json.dumps(fact, sort_keys=True, separators=(",", ":")))
            for name, fact in facts.items()
        )
    )


def forget() -> None:
    """Forget what the file system said (a long-lived server sees packages change)."""
    for cached in (_is_package, _project_root, identify, _module_file, _project_files):
        cached.cache_clear()
