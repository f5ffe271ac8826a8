"""Read `# expect: DL00x` comments from fixture programs."""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

EXPECT_RE = re.compile(r"#\s*expect:\s*(DL\d{3}(?:\s*,\s*DL\d{3})*)")
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def expectations(path: Path) -> set[tuple[str, int]]:
    """(code, line) pairs declared by `# expect:` comments (read from real comments only)."""
    found: set[tuple[str, int]] = set()
    with path.open("rb") as fh:
        tokens = tokenize.tokenize(io.BytesIO(fh.read()).readline)
        for tok in tokens:
            if tok.type == tokenize.COMMENT:
                m = EXPECT_RE.search(tok.string)
                if m:
                    for code in m.group(1).split(","):
                        found.add((code.strip(), tok.start[0]))
    return found


def fixture_files(kind: str) -> list[Path]:
    return sorted((FIXTURES / kind).glob("*.py"))
