"""The settings each file is checked with: its configuration file, then the command line.

As in ruff, a run has no single configuration: each file uses the nearest configuration
file at or above its directory (`config.find`), so `devlint pkg_b pkg_a` checks
`pkg_a`'s files with `pkg_a/pyproject.toml` and a walk of `.` switches to
`pkg_b/pyproject.toml` below `pkg_b`.  `--config FILE` and `--isolated` replace that
discovery with one configuration for every file.  The command line's options (`CommandLine`)
apply on top of whichever file applied.

`Resolver` finds, loads and combines them once per directory and once per configuration
file: a walk of a large tree asks for every directory, and thousands of files share a
handful of `Settings`.  Nothing here knows about click: the command line, the LSP server
and the pytest plugin build a `CommandLine` and ask the same resolver.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from devlint import config
from devlint.config import Config, Selection
from devlint.files import DEFAULT_EXCLUDE, DEFAULT_INCLUDE, FileOptions
from devlint.globs import PathSet
from devlint.roles import RolePatterns
from devlint.rules import KNOWN_CODES, SYNTAX_ERROR

# (pattern, rule codes, directory the pattern is relative to)
IgnoreRow = tuple[str, tuple[str, ...], str]


@dataclass(frozen=True)
class CommandLine:
    """What the command line (or a library caller) sets on top of every file's
    configuration.  None and empty values leave the configuration's setting alone."""

    select: Optional[tuple[str, ...]] = None
    ignore: tuple[str, ...] = ()
    extend_select: tuple[str, ...] = ()
    fixable: Optional[tuple[str, ...]] = None
    unfixable: tuple[str, ...] = ()
    # `--per-file-ignores` replaces the configured table; `--extend-per-file-ignores` adds.
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    extend_per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    exclude: tuple[str, ...] = ()  # replaces the configured (or default) `exclude`
    extend_exclude: tuple[str, ...] = ()
    respect_gitignore: Optional[bool] = None
    force_exclude: bool = False
    # one configuration file for every file, or none at all
    config_file: Optional[str] = None
    isolated: bool = False
    # inline `--config KEY=VALUE` settings, replacing the keys of each file
    overrides: tuple[dict[str, Any], ...] = ()
    # the directory the command line's own patterns are relative to
    cwd: str = field(default_factory=os.getcwd)

    @property
    def selection(self) -> Selection:
        return Selection(select=self.select, ignore=self.ignore, extend_select=self.extend_select)


@dataclass(frozen=True)
class Settings:
    """Everything that decides how one file is checked, resolved."""

    # the configuration file that applied (None: the defaults) and what it extends
    path: Optional[str]
    extends: tuple[str, ...]
    root: str  # the configuration's directory (else the cwd): where its cache lives
    enabled: frozenset[str]
    fixable: frozenset[str]
    per_file_ignores: tuple[IgnoreRow, ...]
    files: FileOptions
    device_names: tuple[str, ...]
    gpu_guards: tuple[str, ...] = ()
    roles: RolePatterns = field(default_factory=RolePatterns)

    @property
    def codes(self) -> tuple[str, ...]:
        """The rules the analysis runs (DL000 is not a rule: the parser reports it)."""
        return tuple(sorted(c for c in self.enabled if c != SYNTAX_ERROR[0]))

    def ignored_codes(self, path: str) -> frozenset[str]:
        """Codes (expanded from prefixes) that `per-file-ignores` switch off for `path`."""
        selectors: list[str] = []
        for pattern, codes, root in self.per_file_ignores:
            if PathSet([pattern], root).matches_path_or_parent(path):
                selectors.extend(codes)
        if not selectors:
            return frozenset()
        return frozenset(
            c for c in KNOWN_CODES if any(sel == "ALL" or c.startswith(sel) for sel in selectors)
        )

    def enabled_for(self, path: str) -> frozenset[str]:
        return self.enabled - self.ignored_codes(path)

    def fix_codes_for(self, path: str) -> tuple[str, ...]:
        """The rules whose fixes apply to `path`: enabled, fixable, not ignored there."""
        skipped = self.ignored_codes(path)
        return tuple(c for c in self.codes if c in self.fixable and c not in skipped)

    def fingerprint(self) -> str:
        """A digest of every resolved setting, for the cache key: a change to any file on
        the configuration chain that changes what applies misses the cache."""
        import hashlib  # loaded with the cache: a `--no-cache` run never needs it

        data = json.dumps(
            [
                self.path,
                self.extends,
                self.root,
                sorted(self.enabled),
                sorted(self.fixable),
                self.per_file_ignores,
                repr(self.files),
                self.device_names,
                self.gpu_guards,
                repr(self.roles),
            ],
            default=repr,
        )
        return hashlib.sha256(data.encode()).hexdigest()[:24]


def _inherited(cfg: Config, key: str) -> Optional[tuple[Any, str]]:
    """(value, directory) of `key` from the nearest file on the `extend` chain that sets it."""
    owner = config.setting(cfg, key)
    if owner is None:
        return None
    attr = key.replace("-", "_")
    return getattr(owner, attr), owner.root


def _accumulated(cfg: Config, attr: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(directory, patterns) of `extend-exclude`/`extend-include` of every file on the
    chain: they add up, as in ruff."""
    return tuple((c.root, getattr(c, attr)) for c in config.chain(cfg) if getattr(c, attr))


def build(cfg: Config, cli: CommandLine) -> Settings:
    """Combine one configuration (with what it extends) and the command line."""
    enabled = config.enabled_codes([*config.selection_layers(cfg), cli.selection])
    fixable = config.fixable_codes([*config.fix_layers(cfg), (cli.fixable, cli.unfixable)])
    if cli.per_file_ignores:
        rows: list[IgnoreRow] = [(p, c, cli.cwd) for p, c in cli.per_file_ignores]
    else:
        found = _inherited(cfg, "per-file-ignores")
        table, root = found if found is not None else ({}, cfg.root)
        rows = [(p, c, root) for p, c in table.items()]
    rows += [(p, c, cli.cwd) for p, c in cli.extend_per_file_ignores]

    if cli.exclude:
        exclude, exclude_root = cli.exclude, cli.cwd
    else:
        found = _inherited(cfg, "exclude")
        exclude, exclude_root = found if found is not None else (DEFAULT_EXCLUDE, cfg.root)
    extra_exclude = _accumulated(cfg, "extend_exclude")
    if cli.extend_exclude:
        extra_exclude += ((cli.cwd, cli.extend_exclude),)
    found = _inherited(cfg, "include")
    include, include_root = found if found is not None else (DEFAULT_INCLUDE, cfg.root)
    found = _inherited(cfg, "respect-gitignore")
    respect = found[0] if found is not None else True
    if cli.respect_gitignore is not None:
        respect = cli.respect_gitignore
    found = _inherited(cfg, "device-names")
    device_names = tuple(found[0]) if found is not None else ()
    found = _inherited(cfg, "gpu-guards")
    gpu_guards = tuple(found[0]) if found is not None else ()
    library = _inherited(cfg, "library")
    scripts = _inherited(cfg, "scripts")
    roles = RolePatterns(
        root=cfg.root,
        library=tuple(library[0]) if library is not None else (),
        library_root=library[1] if library is not None else cfg.root,
        scripts=tuple(scripts[0]) if scripts is not None else (),
        scripts_root=scripts[1] if scripts is not None else cfg.root,
    )

    files = FileOptions(
        root=exclude_root,
        exclude=tuple(exclude),
        extend_exclude=(),
        include=tuple(include) if include_root == exclude_root else (),
        respect_gitignore=respect,
        force_exclude=cli.force_exclude,
        extra_exclude=extra_exclude,
        extra_include=(((include_root, tuple(include)),) if include_root != exclude_root else ())
        + _accumulated(cfg, "extend_include"),
    )
    chain = config.chain(cfg)
    return Settings(
        path=os.path.abspath(cfg.path) if cfg.path else None,
        extends=tuple(os.path.abspath(c.path) for c in reversed(chain[:-1]) if c.path),
        root=cfg.root,
        enabled=frozenset(enabled),
        fixable=frozenset(fixable),
        per_file_ignores=tuple(rows),
        files=files,
        device_names=tuple(device_names),
        gpu_guards=gpu_guards,
        roles=roles,
    )


class Resolver:
    """The settings of each file of a run (see the module docstring).  Errors in a
    configuration file are `config.ConfigError`, raised when a file under it is first
    resolved."""

    def __init__(self, cli: Optional[CommandLine] = None) -> None:
        self.cli = cli or CommandLine()
        self._by_dir: dict[str, Settings] = {}
        self._by_config: dict[Optional[str], Settings] = {}
        self._fixed: Optional[Settings] = None
        if self.cli.isolated or self.cli.config_file is not None:
            self._fixed = self._settings(self.cli.config_file)

    def _settings(self, path: Optional[str]) -> Settings:
        key = os.path.abspath(path) if path is not None else None
        found = self._by_config.get(key)
        if found is None:
            if path is not None and not os.path.isfile(path):
                raise config.ConfigError(f"configuration file not found: {path}")
            cfg = config.resolve(
                self.cli.cwd,
                config_file=path,
                isolated=path is None,
                overrides=self.cli.overrides,
            )
            found = self._by_config[key] = build(cfg, self.cli)
        return found

    def for_dir(self, directory: str) -> Settings:
        """The settings of the files in `directory` (and of the directory itself)."""
        if self._fixed is not None:
            return self._fixed
        key = os.path.abspath(directory)
        found = self._by_dir.get(key)
        if found is None:
            # this directory's own file, else its parent's settings (cached): a walk
            # looks at each directory once instead of climbing to the root every time
            own = config.find_in(key)
            parent = os.path.dirname(key)
            if own is not None:
                found = self._settings(own)
            elif parent == key:
                found = self._settings(None)
            else:
                found = self.for_dir(parent)
            self._by_dir[key] = found
        return found

    def for_path(self, path: str) -> Settings:
        """The settings of one file (it need not exist: stdin's `--stdin-filename`)."""
        if self._fixed is not None:
            return self._fixed
        if os.path.isdir(path):
            return self.for_dir(path)
        return self.for_dir(os.path.dirname(os.path.abspath(path)))

    def file_options(self, directory: str) -> FileOptions:
        """For `files.discover`: what the walk includes and skips in `directory`."""
        return self.for_dir(directory).files

    def all(self) -> Sequence[Settings]:
        """Every distinct settings object resolved so far."""
        return list(self._by_config.values())
