"""The git adapter: GitPython only on write paths, identity and signing as git has them,
and git's own reason when a remote fails."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import Registry, git
from modelreg.adapters.git import Git, first_line, push
from modelreg.errors import ForgeError

# Runs the CLI in a fresh interpreter, then says whether GitPython's `git` was imported.
_PROBE = """
import sys
from modelreg.cli import main
sys.argv = ["modelreg", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
print("gitpython-imported:", "git" in sys.modules)
"""


def _imports_gitpython(reg: Registry, *args: str) -> bool:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, *args], cwd=reg.root, capture_output=True, text=True
    ).stdout
    last = out.strip().splitlines()[-1]
    assert last.startswith("gitpython-imported:"), out
    return last.endswith("True")


def test_read_only_commands_never_import_gitpython(registry: Registry) -> None:
    registry.register("churn", 0)
    for args in (
        ["--help"],
        ["status"],
        ["status", "churn", "--json"],
        ["history", "churn"],
        ["validate"],
        ["schema", "version"],
    ):
        assert not _imports_gitpython(registry, *args), args
    art, met = registry.artifact("churn-1", 1), registry.metrics("churn-1", accuracy=0.9)
    register = ["register", "churn", "--artifact", str(art), "--metrics", str(met)]
    assert _imports_gitpython(registry, *register), "the probe must see a write path load it"


def _identity_only_in_the_environment(
    registry: Registry, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    empty = tmp_path / "empty-gitconfig"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    assert subprocess.run(["git", "config", "user.email"], cwd=registry.root).returncode == 1
    monkeypatch.setenv("GIT_AUTHOR_NAME", "CI Runner")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "ci@example.org")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "CI Bot")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "bot@example.org")


def test_register_commits_with_the_identity_only_in_the_environment(
    registry: Registry, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _identity_only_in_the_environment(registry, monkeypatch, tmp_path)
    registry.register("churn", 0)
    who = registry.git("log", "-1", "--format=%an <%ae>|%cn <%ce>").strip()
    assert who == "CI Runner <ci@example.org>|CI Bot <bot@example.org>"
    record = yaml.safe_load((registry.root / "models/churn/versions/v1.0.0.yaml").read_text())
    assert record["created_by"] == "ci@example.org"


def test_register_without_any_identity_is_one_line_with_the_fix(
    registry: Registry, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    empty = tmp_path / "empty-gitconfig"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    registry.git("config", "user.useConfigOnly", "true")  # no guessing from the host name
    before = registry.git("rev-parse", "HEAD")
    art, met = registry.artifact("c", 0), registry.metrics("c", accuracy=0.9)
    result = registry.run("register", "churn", "--artifact", str(art), "--metrics", str(met))
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "git has no user identity" in result.stderr
    assert "git config user.email" in result.stderr
    assert registry.git("rev-parse", "HEAD") == before


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen")
def test_commits_are_signed_when_the_user_signs_commits(registry: Registry, tmp_path: Path) -> None:
    key = tmp_path / "signing-key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    registry.git("config", "gpg.format", "ssh")
    registry.git("config", "user.signingKey", str(key))
    registry.git("config", "commit.gpgSign", "true")
    registry.register("churn", 0, "--push")
    assert "-----BEGIN SSH SIGNATURE-----" in registry.git("cat-file", "commit", "HEAD")
    # A promotion commits in a temporary worktree: signed as well.
    registry.ok("promote", "churn", "v1.0.0", "--to", "staging")
    branch = "modelreg/promote/churn/staging/v1.0.0"
    assert "-----BEGIN SSH SIGNATURE-----" in git(registry.origin, "cat-file", "commit", branch)
    registry.ok("pr", "merge", branch)  # the local forge's merge commit, too
    merged = git(registry.origin, "cat-file", "commit", "main")
    assert merged.count("\nparent ") == 2 and "-----BEGIN SSH SIGNATURE-----" in merged


def test_an_unreachable_origin_names_gits_reason(churn_pushed: Registry) -> None:
    registry = churn_pushed
    nowhere = registry.root.parent / "nowhere.git"
    registry.git("remote", "set-url", "origin", str(nowhere))
    result = registry.run("promote", "churn", "v1.0.0", "--to", "staging")
    assert result.exit_code == ForgeError.exit_code, result.output
    assert result.stderr.count("\n") == 1, result.stderr
    assert "cannot fetch from origin: " in result.stderr
    assert f"'{nowhere}' does not appear to be a git repository" in result.stderr
    assert "and the repository exists" not in result.stderr


def test_a_rejected_push_shows_the_refused_ref_not_a_hint(
    registry: Registry, tmp_path: Path
) -> None:
    side = tmp_path / "side"
    git(tmp_path, "clone", "-q", str(registry.origin), str(side))
    (side / "NOTES.md").write_text("someone else's change\n")
    git(side, "add", "NOTES.md")
    git(side, "commit", "-qm", "unrelated")
    git(side, "push", "-q", "origin", "main")
    registry.write("MINE.md", "mine\n")
    registry.git("add", "MINE.md")
    registry.git("commit", "-qm", "mine")
    # `register --push` fetches first, so the adapter is driven directly to lose the race.
    with pytest.raises(ForgeError) as caught:
        push(Git(registry.root), "HEAD:refs/heads/main")
    message = str(caught.value)
    assert "\n" not in message
    assert "[rejected] HEAD -> main (fetch first)" in message
    assert "hint" not in message


_UNREACHABLE = """\
fatal: '/tmp/x/nowhere.git' does not appear to be a git repository
fatal: Could not read from remote repository.

Please make sure you have the correct access rights
and the repository exists.
"""

_REJECTED = """\
To /tmp/x/origin.git
 ! [rejected]        HEAD -> main (fetch first)
error: failed to push some refs to '/tmp/x/origin.git'
hint: Updates were rejected because the remote contains work that you do
hint: not have locally.
"""


@pytest.mark.parametrize(
    ("stderr", "line"),
    [
        (_UNREACHABLE, "'/tmp/x/nowhere.git' does not appear to be a git repository"),
        (_REJECTED, "failed to push some refs to '/tmp/x/origin.git'"),
        ("hint: use --force\nwarning: nothing to do\n", "warning: nothing to do"),
        (b"error: pathspec 'x' did not match\n", "pathspec 'x' did not match"),
        ("", "(no message)"),
    ],
)
def test_first_line_is_gits_error_line_not_its_advice(stderr: str | bytes, line: str) -> None:
    assert first_line(stderr) == line


def test_first_line_of_an_exception_is_its_first_line_or_its_type() -> None:
    assert first_line(ValueError("bad value\nmore detail")) == "bad value"
    assert first_line(EOFError()) == "EOFError"
    assert len(first_line(ValueError("x" * 500))) == 200
