"""Which file a call reads, when the code names it literally.

`torch.load("models/net.pt")` or `torch.load(os.path.join(os.path.dirname(__file__),
"weights.pt"))` reads a file that may be committed next to the code; what that file holds
decides whether the load can fail (`devlint.checkpoints` reads it, after the analysis
and outside the cache).  Here the path expression becomes a `FileSpec`: the path as
written and what it is relative to, the working directory (unknown to a static pass, so
the reader tries the folders a program is usually started from) or the source file's
own folder.  Anything built at run time (an f-string, a variable, a configuration
value) has no spec.
"""

from __future__ import annotations

from typing import Callable, Optional

import libcst as cst

from devlint.engine import names as N

# (base, path): base "cwd" (relative to the working directory) or "file" (relative to
# the folder of the source file); the path uses "/" and may be absolute.
FileSpec = tuple[str, str]

# what a plain name stands for (its one assignment at the top of the module), else itself
Resolve = Callable[[cst.BaseExpression], cst.BaseExpression]

_PATH_CLASSES = frozenset(("Path", "PosixPath", "WindowsPath", "PurePath"))
_RESOLVERS = frozenset(("resolve", "absolute", "expanduser"))


def file_spec(
    node: cst.BaseExpression, constant: object, resolve: Resolve = lambda n: n
) -> Optional[FileSpec]:
    """The file `node` names, `constant` being its value when the engine knows it as a
    string (a literal, or a name bound to one); `resolve` looks through plain names
    (`HERE = os.path.dirname(__file__)` ... `os.path.join(HERE, "w.pt")`)."""
    if isinstance(constant, str):
        return ("cwd", constant) if constant else None
    node = resolve(node)
    if type(node) is cst.Call:
        return _call_spec(node, resolve)
    if type(node) is cst.BinaryOperation and type(node.operator) is cst.Divide:
        right = N.string_value(node.right)
        if not right:
            return None
        if _is_file_folder(resolve(node.left)):
            return ("file", right)
        left = file_spec(node.left, None, resolve)
        return (left[0], f"{left[1]}/{right}") if left is not None else None
    return None


def _call_spec(node: cst.Call, resolve: Resolve) -> Optional[FileSpec]:
    name = N.dotted(node.func) or ""
    last = name.rsplit(".", 1)[-1]
    args = [a for a in node.args if a.keyword is None and not a.star]
    if not args or (len(args) != len(node.args) and name not in ("open", "io.open")):
        return None
    if last == "join":  # `str.join` has one argument, a list
        # os.path.join(os.path.dirname(__file__), "assets", "w.pt") / os.path.join("a", "b")
        base = "cwd"
        parts = [resolve(a.value) for a in args]
        if _is_file_folder(parts[0]):
            base, parts = "file", parts[1:]
        texts = [N.string_value(p) for p in parts]
        if not texts or any(not t for t in texts):
            return None
        return base, "/".join(texts)  # type: ignore[arg-type]
    if name in ("open", "io.open") and args:
        # `torch.load(open("w.pt", "rb"))`: the file object of a named file
        return file_spec(args[0].value, N.string_value(args[0].value), resolve)
    if last in _PATH_CLASSES and len(args) == 1:
        text = N.string_value(args[0].value)
        return ("cwd", text) if text else None
    return None


def _is_file_folder(node: cst.BaseExpression) -> bool:
    """`os.path.dirname(__file__)` (of `abspath`/`realpath` too) or
    `Path(__file__).parent` (after `.resolve()`/`.absolute()` too)."""
    if type(node) is cst.Call:
        name = N.dotted(node.func) or ""
        if name.rsplit(".", 1)[-1] == "dirname" and len(node.args) == 1:
            return _is_this_file(node.args[0].value)
        return False
    if type(node) is cst.Attribute and node.attr.value == "parent":
        return _is_this_file(node.value)
    return False


def _is_this_file(node: cst.BaseExpression) -> bool:
    """`__file__`, or a path made of it (`os.path.abspath(__file__)`, `Path(__file__)`,
    `Path(__file__).resolve()`)."""
    if type(node) is cst.Name:
        return node.value == "__file__"
    if type(node) is not cst.Call:
        return False
    func = node.func
    if type(func) is cst.Attribute and func.attr.value in _RESOLVERS and not node.args:
        return _is_this_file(func.value)
    last = (N.dotted(func) or "").rsplit(".", 1)[-1]
    if last in ("abspath", "realpath") or last in _PATH_CLASSES:
        return len(node.args) == 1 and _is_this_file(node.args[0].value)
    return False
