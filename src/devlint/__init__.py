"""devlint: a static analyser for PyTorch device-placement bugs."""

__version__ = "0.1.0"
