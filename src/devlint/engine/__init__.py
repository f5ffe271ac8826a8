"""The device-flow analysis: computes facts, reports nothing."""

from devlint.engine.flow import analyze

__all__ = ["analyze"]
