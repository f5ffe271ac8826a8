"""`junit`: JUnit XML, which CI servers (GitLab, Jenkins, Azure) show as a test report.

The layout is ruff's: one `<testsuite>` per file and one failing `<testcase>` per finding
(`name` `org.devlint.CODE`, `classname` the path without its suffix, `line`/`column`
attributes), and a single passing test case when nothing is found, so the report is
never an empty suite that some servers reject.  Text from scanned files goes through
`clean`, which leaves no character XML 1.0 forbids.
"""

from __future__ import annotations

import os
from itertools import groupby
from typing import Sequence
from xml.sax.saxutils import escape, quoteattr

from devlint.findings import Finding
from devlint.report.full import clean


def _case(f: Finding) -> list[str]:
    message = clean(f.message)
    where = (
        f"cell {f.cell}, line {f.line}, col {f.col}"
        if f.cell is not None
        else f"line {f.line}, col {f.col}"
    )
    classname = os.path.splitext(clean(f.path))[0]
    return [
        f"        <testcase name={quoteattr('org.devlint.' + f.code)} "
        f'classname={quoteattr(classname)} line="{f.line}" column="{f.col}">',
        "            <properties>",
        f'                <property name="severity" value={quoteattr(f.severity)}/>',
        "            </properties>",
        f"            <failure message={quoteattr(message)}>{escape(where)}, "
        f"{escape(message)}</failure>",
        "        </testcase>",
    ]


def render(findings: Sequence[Finding], **_: object) -> str:
    n = len(findings)
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<testsuites name="devlint" tests="{max(n, 1)}" skipped="0" failures="{n}" errors="0">',
    ]
    if not findings:
        lines += [
            '    <testsuite name="devlint" tests="1" skipped="0" errors="0" failures="0" '
            'package="org.devlint">',
            '        <testcase name="No errors found" classname="devlint"/>',
            "    </testsuite>",
        ]
    for path, group in groupby(findings, key=lambda f: f.path):
        items = list(group)
        lines.append(
            f'    <testsuite name={quoteattr(clean(path))} tests="{len(items)}" skipped="0" '
            f'errors="0" failures="{len(items)}" package="org.devlint">'
        )
        for f in items:
            lines += _case(f)
        lines.append("    </testsuite>")
    lines.append("</testsuites>")
    return "\n".join(lines) + "\n"
