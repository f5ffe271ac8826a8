"""Line/column positions of LibCST nodes, computed only for files that have findings.

This is LibCST's `PositionProvider` without the parts devlint does not need: the
generated tokens are not kept and tokens without line breaks skip the regex split, which
makes the one codegen pass over the file markedly cheaper.
"""

from __future__ import annotations

from typing import Mapping

import libcst as cst
from libcst.metadata import CodeRange, PositionProvider
from libcst.metadata.position_provider import NEWLINE_RE, PositionProvidingCodegenState


class _LeanState(PositionProvidingCodegenState):
    __slots__ = ()

    def add_indent_tokens(self) -> None:
        for token in self.indent_tokens:
            self._update_position(token)

    def add_token(self, value: str) -> None:
        self._update_position(value)

    def _update_position(self, value: str) -> None:
        if "\n" not in value and "\r" not in value:
            self.column += len(value)
            return
        segments = NEWLINE_RE.split(value)
        self.line += len(segments) - 1
        self.column = len(segments[-1])


def node_positions(module: cst.Module) -> Mapping[cst.CSTNode, CodeRange]:
    """Syntactic positions (as `PositionProvider` gives them) of every node in `module`."""
    provider = PositionProvider()
    state = _LeanState(
        default_indent=module.default_indent,
        default_newline=module.default_newline,
        provider=provider,
    )
    module._codegen(state)
    return provider._computed
