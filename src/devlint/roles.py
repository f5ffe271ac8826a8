"""Which files are library code and which are scripts: the contract a function works under.

A public function of library code (an importable package module) may be called by
anyone, with tensors on any accelerator: the open world.  A script's helpers, tests and
notebooks are called only where devlint can see: the closed world.  The engine applies
the library contracts (issue 14: a factory without `device=` or `.numpy()` on a tensor
parameter is a finding without any caller in sight) only to library files.

The role of a file comes from `[tool.devlint]` first (`library = [globs]`,
`scripts = [globs]`; a file matching both is a script), then from its place:

- programs: notebooks, test modules (`test_*.py`, `*_test.py`, `conftest.py`),
  `setup.py`, `__main__.py`: nothing outside them calls their functions;
- scripts: anything under a folder whose name says it holds tests, programs or
  documentation (`tests`, `scripts`, `examples`, `tools`, `benchmarks`, `docs`,
  `tutorials`, `notebooks`, `demo(s)`, `recipes`), and loose modules (no package around
  them, beside a training script): called from code in sight and from scripts that
  import them;
- library: a module of an importable package (its folder, or a folder above it within
  the project, has an `__init__.py`: namespace subpackages count) that is none of the
  above.

The engine also treats a module with `if __name__ == "__main__":` as a program (it runs
as one), unless it is library code: a package module that ends in a demo is imported all
the same, and keeps its library contract.  Resolved here, before the cache is asked,
because the role depends on the file's path and its folder, not only on its bytes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

from devlint.globs import PathSet, relative

LIBRARY = "library"
SCRIPT = "script"  # a script's helper module: called from here and from scripts
PROGRAM = "program"  # a test module or notebook: nothing else calls its functions

# folders whose modules are programs, tests or documentation, not importable library code
SCRIPT_FOLDERS = frozenset(
    {
        "tests",
        "test",
        "testing",
        "scripts",
        "script",
        "examples",
        "example",
        "tools",
        "benchmarks",
        "benchmark",
        "docs",
        "doc",
        "tutorials",
        "tutorial",
        "notebooks",
        "demo",
        "demos",
        "recipes",
    }
)


@dataclass(frozen=True)
class RolePatterns:
    """The `library`/`scripts` settings of one configuration (globs relative to `root`,
    the configuration's folder; a glob names files or the folders that hold them)."""

    root: str = ""  # the project: folder names are read below it
    library: tuple[str, ...] = ()
    library_root: str = ""  # the folder of the configuration that sets `library`
    scripts: tuple[str, ...] = ()
    scripts_root: str = ""

    def role_for(self, path: str) -> str:
        """`LIBRARY` or `SCRIPT` for the file at `path` (as given on the command line)."""
        root = self.root or os.getcwd()
        if self.scripts and _patterns(
            self.scripts, self.scripts_root or root
        ).matches_path_or_parent(path):
            return SCRIPT
        if self.library and _patterns(
            self.library, self.library_root or root
        ).matches_path_or_parent(path):
            return LIBRARY
        return detect_role(path, root)

    def in_test_suite(self, path: str) -> bool:
        """Whether the file at `path` belongs to a test suite (`in_test_suite`), with
        folder names read below this configuration's project."""
        return in_test_suite(path, self.root)


# folders of test suites (their modules feed helpers CPU data because CI has no GPU)
TEST_FOLDERS = frozenset({"tests", "test", "testing"})


def is_test_module(name: str) -> bool:
    """`test_*.py`, `*_test.py`, `conftest.py`: a module pytest collects or configures."""
    return name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py"


def in_test_suite(path: str, root: str = "") -> bool:
    """A test module (`is_test_module`) or a module under a test suite's folder (`tests/`),
    folder names read below `root` (the project).  A test suite runs on the CPU machines
    of CI: a file it loads that holds accelerator tensors fails it on its first run."""
    rel = relative(path, root or os.getcwd())
    return is_test_path(rel if rel is not None else path.replace(os.sep, "/"))


def is_test_path(relpath: str) -> bool:
    """`in_test_suite` for a path already relative to the project, `/`-separated."""
    *folders, name = relpath.split("/")
    return is_test_module(name) or not TEST_FOLDERS.isdisjoint(folders)


def detect_role(path: str, root: str = "") -> str:
    """The role a file's place gives it (see the module's docstring).  Folder names are
    read below `root` (the project), so a checkout under `~/examples/` is not a script."""
    rel = relative(path, root or os.getcwd())
    norm = rel if rel is not None else path.replace(os.sep, "/")
    name = norm.rsplit("/", 1)[-1]
    if not name.endswith(".py") or is_test_module(name) or name in ("setup.py", "__main__.py"):
        return PROGRAM
    folders = norm.split("/")[:-1]
    if any(part.lower() in SCRIPT_FOLDERS for part in folders):
        return SCRIPT
    # a package, or a namespace subpackage of one (a folder without `__init__.py` under
    # a package, importable since PEP 420): the nearest folders up to the project root
    folder = os.path.dirname(os.path.abspath(path))
    top = os.path.abspath(root or os.getcwd())
    for _ in range(len(folders) + 1 if rel is not None else 1):
        if _is_package(folder):
            return LIBRARY
        if folder == top:
            break
        folder = os.path.dirname(folder)
    return SCRIPT


@lru_cache(maxsize=64)
def _patterns(globs: tuple[str, ...], root: str) -> PathSet:
    return PathSet(globs, root)


@lru_cache(maxsize=4096)
def _is_package(folder: str) -> bool:
    return os.path.isfile(os.path.join(folder, "__init__.py"))
