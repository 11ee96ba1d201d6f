"""This repository's own registry: its example models, and the committed DVC remote it uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import make_registry
from modelreg import dvcio


@pytest.mark.parametrize("where", [".", "sub"])
def test_init_stores_a_relative_remote_relative_to_the_dvc_folder(
    tmp_path: Path, where: str
) -> None:
    reg = make_registry(tmp_path, init=False)
    reg.git("commit", "-q", "--allow-empty", "-m", "start")
    cwd = reg.root / where
    cwd.mkdir(exist_ok=True)
    typed = ".dvc/storage" if where == "." else "../.dvc/storage"

    result = reg.run("init", "--dvc-remote", typed, cwd=cwd)

    assert result.exit_code == 0, result.output
    config = (reg.root / ".dvc/config").read_text()
    assert "url = storage\n" in config  # as `dvc remote add` writes it, from .dvc/
    assert dvcio.remote_url(reg.root) == str((reg.root / ".dvc/storage").resolve())
