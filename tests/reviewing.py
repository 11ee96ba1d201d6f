"""Acting as another git identity in tests: a reviewer who did not write the branch."""

from __future__ import annotations

import os
from pathlib import Path

from click.testing import CliRunner, Result

from conftest import Registry
from modelreg.cli import cli

REVIEWER = "reviewer@example.com"


def as_identity(reg: Registry, email: str, *args: str, cwd: Path | None = None) -> Result:
    """Run the modelreg CLI with `email` as git's author and committer identity."""
    name = email.split("@")[0].title()
    env = {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }
    old = Path.cwd()
    os.chdir(cwd or reg.root)
    try:
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    finally:
        os.chdir(old)


def approve(reg: Registry, branch: str, email: str = REVIEWER) -> None:
    """A second person approves the PR's head commit."""
    result = as_identity(reg, email, "pr", "approve", branch)
    assert result.exit_code == 0, result.output
