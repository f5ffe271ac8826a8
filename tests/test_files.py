"""Path discovery: what `devlint PATHS...` checks, in which order, and what it skips."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from devlint.files import FileOptions, discover


def touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x = 1\n")


def shown(root: Path, *args: str) -> list[str]:
    """Display paths, relative to `root`, for a run started in `root`."""
    cwd = os.getcwd()
    os.chdir(root)
    try:
        result = discover(args)
    finally:
        os.chdir(cwd)
    assert result.errors == []
    return [s.display.replace(os.sep, "/") for s in result.files]


def test_walk_finds_py_and_pyi_only(tmp_path: Path) -> None:
    touch(tmp_path, "a.py", "b.pyi", "notes.txt", "setup.cfg", "pkg/c.py", "pkg/data.json")
    assert shown(tmp_path, ".") == ["a.py", "b.pyi", "pkg/c.py"]


@pytest.mark.parametrize(
    "skipped",
    [
        ".git",
        ".hg",
        ".venv",
        "venv",
        "build",
        "dist",
        "__pycache__",
        ".tox",
        ".nox",
        "node_modules",
        ".eggs",
        "devlint.egg-info",
    ],
)
def test_walk_skips_tool_and_environment_directories(tmp_path: Path, skipped: str) -> None:
    touch(tmp_path, "keep.py", f"{skipped}/x.py", f"src/{skipped}/y.py")
    assert shown(tmp_path, ".") == ["keep.py"]


def test_walk_skips_any_directory_holding_pyvenv_cfg(tmp_path: Path) -> None:
    touch(tmp_path, "keep.py", "myenv/lib/site.py", "other/lib/ok.py")
    (tmp_path / "myenv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    assert shown(tmp_path, ".") == ["keep.py", "other/lib/ok.py"]


def test_explicit_files_are_always_checked(tmp_path: Path) -> None:
    touch(tmp_path, ".venv/lib/x.py", "build/gen.py", "script.txt")
    assert shown(tmp_path, ".venv/lib/x.py", "script.txt", "build/gen.py") == [
        ".venv/lib/x.py",
        "build/gen.py",
        "script.txt",
    ]


def test_an_excluded_directory_named_explicitly_is_walked(tmp_path: Path) -> None:
    touch(tmp_path, "build/gen.py", "build/__pycache__/gen.py")
    assert shown(tmp_path, "build") == ["build/gen.py"]


def test_order_is_sorted_by_path_components(tmp_path: Path) -> None:
    # Created out of order; `pkg/` sorts before `pkg-x.py` and `pkg.py`.
    touch(tmp_path, "z.py", "pkg.py", "pkg-x.py", "pkg/mod.py", "a/b/c.py", "a.py", "B.py")
    expected = ["B.py", "a/b/c.py", "a.py", "pkg/mod.py", "pkg-x.py", "pkg.py", "z.py"]
    assert shown(tmp_path, ".") == expected
    assert shown(tmp_path, "z.py", "pkg", ".") == expected


def test_duplicates_are_checked_once(tmp_path: Path) -> None:
    touch(tmp_path, "a.py", "pkg/b.py")
    assert shown(tmp_path, "a.py", "./a.py", ".", "pkg", "pkg/b.py") == ["a.py", "pkg/b.py"]


def test_display_paths_are_normalised(tmp_path: Path) -> None:
    touch(tmp_path, "pkg/a.py")
    assert shown(tmp_path, "./pkg/") == ["pkg/a.py"]
    assert shown(tmp_path / "pkg", "../pkg/a.py") == ["../pkg/a.py"]


def test_missing_path_is_an_error_and_the_rest_still_found(tmp_path: Path) -> None:
    touch(tmp_path, "a.py")
    result = discover([str(tmp_path / "missing.py"), str(tmp_path / "a.py")])
    assert result.errors == [f"path does not exist: {tmp_path / 'missing.py'}"]
    assert [Path(s.path).name for s in result.files] == ["a.py"]


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks need privileges on Windows")
def test_symlink_loops_terminate(tmp_path: Path) -> None:
    touch(tmp_path, "pkg/a.py")
    (tmp_path / "pkg" / "loop").symlink_to(tmp_path / "pkg", target_is_directory=True)
    (tmp_path / "pkg" / "up").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "self.py").symlink_to(tmp_path / "self.py")  # a link to itself
    assert shown(tmp_path, ".") == ["pkg/a.py"]
    result = discover([str(tmp_path / "self.py")])
    assert result.files == []
    assert result.errors == [f"cannot follow symbolic link: {tmp_path / 'self.py'}"]


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks need privileges on Windows")
def test_symlinked_file_is_checked_once(tmp_path: Path) -> None:
    touch(tmp_path, "real.py")
    (tmp_path / "alias.py").symlink_to(tmp_path / "real.py")
    (tmp_path / "dangling.py").symlink_to(tmp_path / "nowhere.py")
    assert shown(tmp_path, ".") == ["alias.py"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_not_read(tmp_path: Path) -> None:
    touch(tmp_path, "a.py")
    os.mkfifo(tmp_path / "pipe.py")
    assert shown(tmp_path, ".") == ["a.py"]
    result = discover([str(tmp_path / "pipe.py")])
    assert result.files == []
    assert result.errors == [f"not a regular file or directory: {tmp_path / 'pipe.py'}"]


@pytest.mark.skipif(
    sys.platform == "win32" or os.geteuid() == 0, reason="needs POSIX permissions, not root"
)
def test_unreadable_directory_is_reported(tmp_path: Path) -> None:
    touch(tmp_path, "a.py", "locked/b.py")
    (tmp_path / "locked").chmod(0)
    try:
        result = discover([str(tmp_path)])
    finally:
        (tmp_path / "locked").chmod(0o755)
    assert [Path(s.path).name for s in result.files] == ["a.py"]
    assert len(result.errors) == 1
    assert "cannot read directory" in result.errors[0]


# --- include, exclude, .gitignore ------------------------------------------------------


def found(root: Path, options: FileOptions, *args: str) -> list[str]:
    cwd = os.getcwd()
    os.chdir(root)
    try:
        result = discover(args or (".",), options)
    finally:
        os.chdir(cwd)
    assert result.errors == []
    return [s.display.replace(os.sep, "/") for s in result.files]


def test_notebooks_are_found_by_default(tmp_path: Path) -> None:
    touch(tmp_path, "a.py", "nb/explore.ipynb", "nb/.ipynb_checkpoints/explore-checkpoint.ipynb")
    assert shown(tmp_path, ".") == ["a.py", "nb/explore.ipynb"]


def test_gitignore_is_honoured_with_gits_rules(tmp_path: Path) -> None:
    touch(
        tmp_path,
        "keep.py",
        "out/gen.py",
        "src/out/also.py",
        "logs.py",
        "src/logs.py",
        "src/data/raw.py",
        "src/data/keep_me.py",
        "src/deep/tmp_x.py",
        "docs/conf.py",
    )
    (tmp_path / ".gitignore").write_text(
        "# build output\nout/\n/logs.py\nsrc/data/*\n!src/data/keep_me.py\n**/tmp_*.py\n"
    )
    (tmp_path / "docs" / ".gitignore").write_text("conf.py\n")
    assert shown(tmp_path, ".") == ["keep.py", "src/data/keep_me.py", "src/logs.py"]
    options = FileOptions(root=str(tmp_path), respect_gitignore=False)
    assert len(found(tmp_path, options)) == 9


def test_gitignore_of_the_repository_applies_to_a_subdirectory(tmp_path: Path) -> None:
    (tmp_path / ".git" / "info").mkdir(parents=True)
    (tmp_path / ".git" / "info" / "exclude").write_text("scratch.py\n")
    (tmp_path / ".gitignore").write_text("generated/\n")
    touch(tmp_path, "src/a.py", "src/generated/g.py", "src/scratch.py")
    assert shown(tmp_path / "src", ".") == ["a.py"]


def test_explicit_files_ignore_gitignore_and_exclude(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("out/\n")
    touch(tmp_path, "out/gen.py", "build/x.py")
    assert shown(tmp_path, "out/gen.py", "build/x.py") == ["build/x.py", "out/gen.py"]


def test_force_exclude_applies_exclude_to_explicit_files(tmp_path: Path) -> None:
    touch(tmp_path, "build/x.py", "migrations/0001.py", "src/ok.py", "src/vendor/lib.py")
    options = FileOptions(
        root=str(tmp_path), extend_exclude=("migrations", "src/vendor"), force_exclude=True
    )
    files = ("build/x.py", "migrations/0001.py", "src/ok.py", "src/vendor/lib.py")
    assert found(tmp_path, options, *files) == ["src/ok.py"]
    lenient = FileOptions(root=str(tmp_path), extend_exclude=("migrations", "src/vendor"))
    assert found(tmp_path, lenient, *files) == list(files)


def test_anchored_and_name_patterns(tmp_path: Path) -> None:
    touch(tmp_path, "a/gen.py", "b/gen.py", "docs/x.py", "src/docs/y.py", "t/test_1.py")
    options = FileOptions(root=str(tmp_path), extend_exclude=("a/gen.py", "/docs", "test_*.py"))
    assert found(tmp_path, options) == ["b/gen.py", "src/docs/y.py"]
    options = FileOptions(root=str(tmp_path), extend_exclude=("docs",))
    assert found(tmp_path, options) == ["a/gen.py", "b/gen.py", "t/test_1.py"]


def test_glob_translation() -> None:
    from devlint.globs import compile_pattern

    assert compile_pattern("**/x.py").matches("a/b/x.py")
    assert compile_pattern("**/x.py").matches("x.py")
    assert compile_pattern("a/**/x.py").matches("a/x.py")
    assert compile_pattern("a/**/x.py").matches("a/b/c/x.py")
    assert not compile_pattern("a/*.py").matches("a/b/c.py")
    assert compile_pattern("a/**").matches("a/b/c.py")
    assert compile_pattern("[!a]*.py").matches("b.py")
    assert not compile_pattern("[!a]*.py").matches("a.py")
    assert compile_pattern("file?.py").matches("file1.py")
    assert compile_pattern("out/").matches("out", is_dir=True)
    assert not compile_pattern("out/").matches("out", is_dir=False)
