"""Forges: where pull requests live (GitHub through its API, or branches on `origin`)."""

from __future__ import annotations

from modelreg.forge.base import Forge, PullRequest

__all__ = ["Forge", "PullRequest"]
