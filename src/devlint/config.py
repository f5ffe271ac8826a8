"""Configuration: `[tool.devlint]` in `pyproject.toml`, or `devlint.toml`/`.devlint.toml`.

The nearest configuration file wins: each directory, from the file's own up to the
file-system root, is searched for `.devlint.toml`, then `devlint.toml` (settings at the
top level), then a `pyproject.toml` that has a `[tool.devlint]` table.  `--config FILE`
names one explicitly and `--isolated` ignores them all.  Relative patterns in the file
are relative to the directory that holds it.  Every `pyproject.toml` met on the way is
parsed, also one without a `[tool.devlint]` table: a broken one stops the run (exit 2),
as in ruff, instead of being skipped silently (its `[tool.devlint]` might be what the
user meant to apply).  `--config KEY=VALUE` overrides one setting (inline TOML, as
ruff's `--config`), on top of the file.

Each file to check has its own configuration, as in ruff: the nearest configuration file
at or above its directory (`resolve(dirname(file))`; `devlint.settings` resolves and
caches them per directory), so `devlint pkg_b pkg_a` applies each package's file to its
own files.  `extend = "../pyproject.toml"` inherits from another file (relative to the
file that names it; a cycle is an error): the rule selection layers the base's under the
file's own, as ruff does, and every other key the file sets replaces the base's, whose
patterns stay relative to the base's directory (`extend-exclude` and `extend-include`
accumulate along the chain).

Every key, rule code and type is checked: a mistake is a `ConfigError` (exit status 2)
that names the file, the key and what is allowed, never a silently ignored setting.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

from devlint.rules import KNOWN_CODES, RULE_DEFAULTS, SYNTAX_ERROR, is_valid_selector

CONFIG_NAMES = (".devlint.toml", "devlint.toml", "pyproject.toml")


class ConfigError(Exception):
    """A configuration file or option that cannot be used (exit status 2)."""


@dataclass(frozen=True)
class Selection:
    """One layer of rule selection: the configuration file's, then the command line's."""

    select: Optional[tuple[str, ...]] = None
    ignore: tuple[str, ...] = ()
    extend_select: tuple[str, ...] = ()


@dataclass
class Config:
    """The settings of a run that come from a configuration file (or their defaults)."""

    path: Optional[str] = None
    # Relative patterns are relative to `root`: the configuration's directory, else the cwd.
    root: str = field(default_factory=os.getcwd)
    selection: Selection = field(default_factory=Selection)
    exclude: Optional[tuple[str, ...]] = None
    extend_exclude: tuple[str, ...] = ()
    include: Optional[tuple[str, ...]] = None
    extend_include: tuple[str, ...] = ()
    per_file_ignores: dict[str, tuple[str, ...]] = field(default_factory=dict)
    respect_gitignore: bool = True
    device_names: tuple[str, ...] = ()
    # decorators and markers that run code only where an accelerator is (`requires_gpu`)
    gpu_guards: tuple[str, ...] = ()
    # library code (open world) and scripts (closed world): see `devlint.roles`
    library: tuple[str, ...] = ()
    scripts: tuple[str, ...] = ()
    # Codes whose fixes `--fix` may apply (None: all), and codes whose fixes it may not.
    fixable: Optional[tuple[str, ...]] = None
    unfixable: tuple[str, ...] = ()
    # The keys the file sets (an absent key inherits from `base`, the file it extends).
    defined: frozenset[str] = frozenset()
    base: Optional[Config] = None


def _allowed_codes() -> str:
    codes = sorted(KNOWN_CODES)
    return f"{', '.join(codes)}, a prefix of them such as DL00, or ALL"


def _where(path: str, table: str, key: str) -> str:
    return f"{path}: {table}{key!r}" if table else f"{path}: {key!r}"


def _string_list(value: Any, where: str, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} must be a list of {what}, not {_show(value)}")
    return tuple(value)


def _show(value: Any) -> str:
    kind = {
        bool: "a boolean",
        str: "a string",
        int: "an integer",
        float: "a number",
        list: "a list",
        dict: "a table",
    }.get(type(value), type(value).__name__)
    if isinstance(value, list) and value and not all(isinstance(v, str) for v in value):
        return "a list with non-string items"
    return kind


def _codes(value: Any, where: str) -> tuple[str, ...]:
    codes = tuple(c.strip().upper() for c in _string_list(value, where, "rule codes"))
    bad = [c for c in codes if not is_valid_selector(c)]
    if bad:
        raise ConfigError(
            f"{where}: unknown rule code {', '.join(repr(b) for b in bad)} "
            f"(allowed: {_allowed_codes()})"
        )
    return codes


def _globs(value: Any, where: str) -> tuple[str, ...]:
    return _string_list(value, where, "glob patterns")


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where} must be true or false, not {_show(value)}")
    return value


def _dotted_names(what: str, examples: str) -> Callable[[Any, str], tuple[str, ...]]:
    """A validator of a list of identifiers or dotted names (`examples`: two of them)."""

    def check(value: Any, where: str) -> tuple[str, ...]:
        names = _string_list(value, where, f"{what} (such as {examples})")
        bad = [n for n in names if not n or not all(p.isidentifier() for p in n.split("."))]
        if bad:
            raise ConfigError(
                f"{where}: {', '.join(repr(b) for b in bad)} is not a name "
                f"(allowed: identifiers or dotted names such as {examples})"
            )
        return names

    return check


_device_names = _dotted_names("variable names", "'dev' or 'cfg.device'")
_gpu_guards = _dotted_names("decorator or marker names", "'requires_gpu' or 'pytest.mark.gpu'")


def _per_file_ignores(value: Any, where: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, dict):
        raise ConfigError(
            f"{where} must be a table of glob = [rule codes], such as "
            f'{{"tests/*" = ["DL002"]}}, not {_show(value)}'
        )
    return {str(k): _codes(v, f"{where}[{k!r}]") for k, v in value.items()}


def _extend(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(
            f"{where} must be the path of another configuration file, such as "
            f'"../pyproject.toml", not {_show(value)}'
        )
    return value


KEYS: dict[str, Callable[[Any, str], Any]] = {
    "extend": _extend,
    "select": _codes,
    "ignore": _codes,
    "extend-ignore": _codes,
    "extend-select": _codes,
    "fixable": _codes,
    "unfixable": _codes,
    "exclude": _globs,
    "extend-exclude": _globs,
    "include": _globs,
    "extend-include": _globs,
    "per-file-ignores": _per_file_ignores,
    "respect-gitignore": _bool,
    "device-names": _device_names,
    "gpu-guards": _gpu_guards,
    "library": _globs,
    "scripts": _globs,
}


def parse_table(table: Any, path: str, root: str, table_name: str = "") -> Config:
    """Validate the settings of one file (the `[tool.devlint]` table or a devlint.toml)."""
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: {table_name or 'the file'} must be a table")
    values: dict[str, Any] = {}
    for key, value in table.items():
        where = _where(path, table_name, key)
        check = KEYS.get(key)
        if check is None:
            hint = ""
            if key.replace("_", "-") in KEYS:
                hint = f" (did you mean {key.replace('_', '-')!r}?)"
            raise ConfigError(
                f"{path}: unknown key {key!r} in {table_name or 'the file'}{hint} "
                f"(allowed: {', '.join(sorted(KEYS))})"
            )
        values[key] = check(value, where)
    return Config(
        path=path,
        root=root,
        selection=Selection(
            select=values.get("select"),
            ignore=(*values.get("ignore", ()), *values.get("extend-ignore", ())),
            extend_select=values.get("extend-select", ()),
        ),
        exclude=values.get("exclude"),
        extend_exclude=values.get("extend-exclude", ()),
        include=values.get("include"),
        extend_include=values.get("extend-include", ()),
        per_file_ignores=values.get("per-file-ignores", {}),
        respect_gitignore=values.get("respect-gitignore", True),
        device_names=values.get("device-names", ()),
        gpu_guards=values.get("gpu-guards", ()),
        library=values.get("library", ()),
        scripts=values.get("scripts", ()),
        fixable=values.get("fixable"),
        unfixable=values.get("unfixable", ()),
        defined=frozenset(values),
    )


def _toml() -> Any:
    """The TOML parser, loaded when a configuration file or `--config` is read."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.9 and 3.10
        import tomli as tomllib
    return tomllib


def _read_toml(path: str) -> dict[str, Any]:
    tomllib = _toml()
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read configuration file {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: not UTF-8 ({exc})") from exc


def _table(path: str) -> tuple[Any, str, str]:
    """The settings table of one file, the directory its patterns are relative to, and
    the table's name for messages."""
    data = _read_toml(path)
    root = os.path.dirname(os.path.abspath(path))
    if os.path.basename(path) == "pyproject.toml":
        tool = data.get("tool", {})
        table = tool.get("devlint", {}) if isinstance(tool, dict) else {}
        return table, root, "[tool.devlint] "
    return data, root, ""


def load(
    path: str,
    overrides: Sequence[dict[str, Any]] = (),
    _seen: tuple[tuple[str, str], ...] = (),
) -> Config:
    """Load one configuration file (`[tool.devlint]` of a pyproject.toml, else the top
    level) and, through `extend`, the files it inherits from.  `overrides` (inline
    `--config KEY=VALUE` settings) replace the file's own keys."""
    key = os.path.normcase(os.path.realpath(path))
    if any(key == seen for seen, _ in _seen):
        names = " -> ".join([*(name for _, name in _seen), path])
        raise ConfigError(f"{path}: `extend` makes a cycle ({names})")
    table, root, name = _table(path)
    cfg = parse_table(table, path, root, name)  # the file's own mistakes name the file
    effective = dict(table)
    for override in overrides:
        effective.update(override)
    if overrides:
        cfg = parse_table(effective, path, root, name)
    target = effective.get("extend")
    if target is not None:
        base_path = os.path.normpath(os.path.join(root, os.path.expanduser(str(target))))
        if not os.path.isfile(base_path):
            raise ConfigError(
                f"{_where(path, name, 'extend')}: configuration file not found: {base_path}"
            )
        cfg.base = load(base_path, (), (*_seen, (key, path)))
    return cfg


def _has_devlint_table(path: str) -> bool:
    """Does this pyproject.toml configure devlint?  Parsed whatever it holds: invalid
    TOML is a ConfigError (ruff fails the same way), not a file to pass over."""
    if not os.access(path, os.R_OK):
        return False
    data = _read_toml(path)
    tool = data.get("tool")
    return isinstance(tool, dict) and "devlint" in tool


OVERRIDE_TIP = (
    "a --config value must be a path to a configuration file (devlint.toml, or a "
    "pyproject.toml with [tool.devlint]) or a TOML `KEY = VALUE` pair overriding one "
    'setting, such as `select = ["DL001"]`'
)


def parse_override(text: str) -> dict[str, Any]:
    """`--config 'select = ["DL001"]'`: one inline TOML setting, validated now so that a
    mistake names the option and the text the user typed."""
    label = f"--config {text!r}"
    tomllib = _toml()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{label}: not valid TOML: {exc} ({OVERRIDE_TIP})") from exc
    if not data:
        raise ConfigError(f"{label}: no setting ({OVERRIDE_TIP})")
    parse_table(data, label, os.getcwd(), "")
    return data


def find_in(directory: str) -> Optional[str]:
    """The configuration file of `directory` itself (not its parents), or None."""
    for name in CONFIG_NAMES:
        candidate = os.path.join(directory, name)
        if not os.path.isfile(candidate):
            continue
        if name != "pyproject.toml" or _has_devlint_table(candidate):
            return candidate
    return None


def find(start: str) -> Optional[str]:
    """The nearest configuration file at or above `start` (a file or directory)."""
    d = os.path.abspath(start)
    if not os.path.isdir(d):
        d = os.path.dirname(d)
    while True:
        found = find_in(d)
        if found is not None:
            return found
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent


def resolve(
    start: str,
    config_file: Optional[str] = None,
    isolated: bool = False,
    overrides: Sequence[dict[str, Any]] = (),
) -> Config:
    """The configuration of the files at `start` (a file or directory; see the module
    docstring); `overrides` (from `parse_override`) replace the file's values key by key."""
    path: Optional[str] = None
    if not isolated:
        if config_file is not None:
            if not os.path.isfile(config_file):
                raise ConfigError(f"configuration file not found: {config_file}")
            path = config_file
        else:
            path = find(start)
    if path is not None:
        return load(path, overrides)
    if not overrides:
        return Config()
    merged: dict[str, Any] = {}
    for override in overrides:
        merged.update(override)
    if "extend" in merged:
        raise ConfigError("--config 'extend = ...' needs a configuration file to extend from")
    cfg = parse_table(merged, "--config", os.getcwd(), "")
    cfg.path = None
    return cfg


# --- inheritance through `extend` ------------------------------------------------------


def chain(cfg: Config) -> list[Config]:
    """The configuration and the files it extends, the farthest base first."""
    out: list[Config] = []
    node: Optional[Config] = cfg
    while node is not None:
        out.append(node)
        node = node.base
    return out[::-1]


def selection_layers(cfg: Config) -> list[Selection]:
    """Rule selection along the `extend` chain, base first (ruff layers them the same
    way: the file's `select` replaces the base's choice, its `ignore` removes from it)."""
    return [c.selection for c in chain(cfg)]


def fix_layers(cfg: Config) -> list[tuple[Optional[tuple[str, ...]], tuple[str, ...]]]:
    """`fixable`/`unfixable` along the `extend` chain, base first."""
    return [(c.fixable, c.unfixable) for c in chain(cfg)]


def setting(cfg: Config, key: str) -> Optional[Config]:
    """The nearest file on the `extend` chain that sets `key` (its value and the
    directory its patterns are relative to are that file's), or None."""
    node: Optional[Config] = cfg
    while node is not None:
        if key in node.defined:
            return node
        node = node.base
    return None


# --- rule selection ------------------------------------------------------------------


def _specificity(code: str, selectors: Sequence[str]) -> Optional[int]:
    """How specifically `selectors` name `code`: the longest matching one (ALL is 0)."""
    best: Optional[int] = None
    for sel in selectors:
        if sel == "ALL":
            length = 0
        elif code.startswith(sel):
            length = len(sel)
        else:
            continue
        best = length if best is None else max(best, length)
    return best


def _layer(code: str, on: bool, layer: Selection, select_resets: bool = True) -> bool:
    base = False if (layer.select is not None and select_resets) else on
    sel = _specificity(code, [*(layer.select or ()), *layer.extend_select])
    ign = _specificity(code, layer.ignore)
    if sel is None and ign is None:
        return base
    if ign is None:
        return True
    if sel is None:
        return False
    return sel > ign  # the more specific selector wins; on a tie `ignore` does


def fixable_codes(layers: Sequence[tuple[Optional[tuple[str, ...]], tuple[str, ...]]]) -> set[str]:
    """The codes whose fixes `--fix` may apply, from (fixable, unfixable) layers (the
    configuration file's, then the command line's), with `select`/`ignore`'s rules:
    `fixable` replaces the layer below (everything is fixable by default), `unfixable`
    removes, and the more specific selector wins."""
    result = set()
    for code in sorted(KNOWN_CODES):
        on = True
        for fixable, unfixable in layers:
            on = _layer(code, on, Selection(select=fixable, ignore=unfixable))
        if on:
            result.add(code)
    return result


def enabled_codes(layers: Sequence[Selection], extra_ignore: Sequence[str] = ()) -> set[str]:
    """The codes a run reports, ruff-style: each layer (configuration file, then command
    line) starts from the one before; `select` replaces it, `extend-select` adds,
    `ignore` removes, and within a layer the more specific selector wins.  DL000 is on
    unless ignored: selecting rules never hides a file that cannot be parsed."""
    result = set()
    for code, on in RULE_DEFAULTS:
        for layer in layers:
            on = _layer(code, on, layer)
        if on:
            result.add(code)
    syntax = True
    for layer in layers:
        syntax = _layer(SYNTAX_ERROR[0], syntax, layer, select_resets=False)
    if syntax:
        result.add(SYNTAX_ERROR[0])
    return {c for c in result if _specificity(c, extra_ignore) is None}
