"""Forges: where pull requests live (GitHub through its API, or branches on `origin`)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from modelreg.adapters.git import Git
from modelreg.errors import UsageError
from modelreg.forge.base import Forge, PullRequest

__all__ = ["Forge", "PullRequest", "forge_name", "select_forge"]


def forge_name(git: Git, env: Mapping[str, str] | None = None) -> str:
    """ "github" when origin is a GitHub URL or GITHUB_API_URL is set, else "local"."""
    from modelreg.forge.github import looks_like_github

    env = os.environ if env is None else env
    origin = git.remote_url("origin")
    github = bool(env.get("GITHUB_API_URL")) or bool(origin and looks_like_github(origin, env))
    return "github" if github else "local"


def select_forge(git: Git, name: str | None = None, env: Mapping[str, str] | None = None) -> Forge:
    """The forge named, else GitHub when origin is a GitHub URL or GITHUB_API_URL is set."""
    from modelreg.forge.github import GitHubForge

    env = os.environ if env is None else env
    origin = git.remote_url("origin")
    if name is None:
        name = forge_name(git, env)
    if name == "github":
        return GitHubForge.from_env(origin, env)
    if name == "local":
        from modelreg.forge.local import LocalForge

        return LocalForge(git)
    raise UsageError(f"unknown forge '{name}'", hint="use github or local")
