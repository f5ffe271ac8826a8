"""The shape of a rule: metadata that documents it, and a check that reads engine facts.

Rules never walk the syntax tree themselves: the engine (`devlint.engine`) computes
where every value lives and records the places where something interesting happens
(`FileFacts`); a rule only filters those facts and words the report.  That keeps a
new rule a small file and keeps the analysis in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Iterator, Optional

if TYPE_CHECKING:  # only annotations: a run answered from the cache never loads the engine
    import ast

    from devlint.engine.facts import FileFacts


SAFE = "safe"
UNSAFE = "unsafe"


@dataclass(frozen=True)
class Edit:
    """Replace the source of `node` with `content` (positions come later, from the checker),
    or, with `insert_before`, put `content` just before it; `{indent}` in the content
    becomes the indentation of the node's line."""

    node: ast.AST
    content: str
    insert_before: bool = False


@dataclass(frozen=True)
class Fix:
    """An automatic repair: `safe` ones keep the program's meaning apart from the bug;
    `unsafe` ones may change behaviour (where checkpoints land, random streams...)."""

    applicability: str
    title: str
    edits: tuple[Edit, ...]


@dataclass(frozen=True)
class Report:
    """A finding before positions are resolved: rules point at nodes, not offsets."""

    code: str
    node: ast.AST
    message: str
    help: str
    # Nodes whose line numbers the message names: `{init_line}` in the message is replaced
    # by the 1-based line of refs["init_line"] once positions are known.
    refs: tuple[tuple[str, ast.AST], ...] = ()
    fix: Optional[Fix] = None


class Rule:
    """Base class: subclasses fill in the metadata and `check`."""

    code: ClassVar[str]
    name: ClassVar[str]
    summary: ClassVar[str]
    # Why the program fails at run time, and how to fix it (for `devlint rule` and docs).
    why: ClassVar[str]
    fix: ClassVar[str]
    # A minimal program where the rule fires, and its corrected twin where it stays silent.
    bad: ClassVar[str]
    good: ClassVar[str]
    severity: ClassVar[str] = "error"
    default_enabled: ClassVar[bool] = True

    def check(self, facts: FileFacts) -> Iterator[Report]:
        raise NotImplementedError

    def report(
        self,
        node: ast.AST,
        message: str,
        help: str,
        fix: Optional[Fix] = None,
        **refs: ast.AST,
    ) -> Report:
        return Report(self.code, node, message, help, tuple(refs.items()), fix)
