"""A text check that rules out files with no device code before they are parsed.

Every finding needs one of these in the source: `torch` (factories, loads, nn classes
are all reached through it), an accelerator name (`cuda`, `mps`, `xpu`...), a name or
keyword containing `device`, or a `.to(`, `.cpu(`, `.numpy(` call.  A file with none of
them cannot produce a finding, so it skips LibCST and the analysis (it is still checked
for syntax errors by Python's compiler, several times faster than LibCST's parse).
`tests/test_prefilter.py` checks that findings are identical with and without the
shortcut.
"""

from __future__ import annotations

import re

_DEVICE_CODE = re.compile(r"torch|cuda|device|mps|xpu|hpu|npu|xla|\.\s*(?:to|cpu|numpy)\s*\(")


def may_have_findings(text: str) -> bool:
    return _DEVICE_CODE.search(text) is not None
