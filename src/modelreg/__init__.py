"""modelreg: a Git repository as the model registry."""

from __future__ import annotations

__version__ = "0.1.0"
