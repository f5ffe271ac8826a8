"""The shape of a rule: metadata that documents it, and a check that reads engine facts.

Rules never walk the syntax tree themselves: the engine (`devlint.engine`) computes
where every value lives and records the places where something interesting happens
(`FileFacts`); a rule only filters those facts and words the report.  That keeps a
new rule a small file and keeps the analysis in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Iterator, Optional

if TYPE_CHECKING:  # only annotations: a run answered from the cache never loads LibCST
    import libcst as cst

    from devlint.engine.facts import FileFacts


SAFE = "safe"
UNSAFE = "unsafe"


@dataclass(frozen=True)
class Edit:
    """Replace `node` with the node `replacement` or, with `insert_before`, insert the
    statement `replacement` just before the statement `node`.  The checker renders the
    replacement with LibCST, in the indentation of the blocks around `node`, once
    positions are known; the rest of the file keeps its bytes."""

    node: cst.CSTNode
    replacement: cst.CSTNode
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
    node: cst.CSTNode
    message: str
    help: str
    # Nodes whose line numbers the message names: `{init_line}` in the message is replaced
    # by the 1-based line of refs["init_line"] once positions are known.
    refs: tuple[tuple[str, cst.CSTNode], ...] = ()
    fix: Optional[Fix] = None
    asset: Optional[tuple[str, str]] = None  # `Finding.asset`
    covers: tuple[cst.CSTNode, ...] = ()  # `Finding.also_lines`: the nodes whose lines


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
    # For a rule off by default: why (`devlint rule`, docs/rules.md and SARIF help say it).
    default_off_reason: ClassVar[str] = ""
    # what `--fix` does for this rule and when it applies (the README's autofix table is
    # generated from these: `devlint.docs.autofix_table`); empty when there is no fix
    fix_summary: ClassVar[str] = ""
    fix_applicability: ClassVar[str] = ""

    def check(self, facts: FileFacts) -> Iterator[Report]:
        raise NotImplementedError

    def report(
        self,
        node: cst.CSTNode,
        message: str,
        help: str,
        fix: Optional[Fix] = None,
        asset: Optional[tuple[str, str]] = None,
        covers: tuple[cst.CSTNode, ...] = (),
        **refs: cst.CSTNode,
    ) -> Report:
        return Report(self.code, node, message, help, tuple(refs.items()), fix, asset, covers)
