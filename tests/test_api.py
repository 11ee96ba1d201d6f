"""The declared public Python API: cheap to import, complete, documented, and working."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import modelreg
from conftest import Registry

DOCS = Path(__file__).resolve().parents[1] / "docs" / "python-api.md"


def test_import_modelreg_loads_no_heavy_module() -> None:
    code = (
        "import sys, modelreg;"
        "print(sorted(m for m in ('git', 'dvc', 'pandas', 'numpy', 'sklearn', 'github3',"
        " 'modelreg.api', 'yaml', 'click') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_public_name_resolves_and_is_documented() -> None:
    documented = set(re.findall(r"`([a-z_A-Z]+)\(", DOCS.read_text()))
    for name in modelreg.__all__:
        assert getattr(modelreg, name) is not None
        if name != "__version__":
            assert name in documented or name == "Registry", name
    assert sorted(dir(modelreg)) == sorted(modelreg.__all__)
    from modelreg import api

    # The package lists the API's names itself, so that `import modelreg` stays lazy.
    assert set(modelreg.__all__) - {"__version__"} == set(api.__all__)


def test_register_status_gate_and_history_work_from_python(registry: Registry) -> None:
    art, met = registry.artifact("m"), registry.metrics("m", accuracy=0.93, f1=0.9)
    done = modelreg.register(registry.root, model="churn", artifact=art, metrics=met)
    assert done.record.version == "v1.0.0" and not done.already
    assert registry.git("status", "--porcelain") == ""
    rows = modelreg.status(registry.root).rows
    assert [(r.model, r.version) for r in rows] == [("churn", "v1.0.0")]
    report = modelreg.gate(registry.root, model="churn", version="v1.0.0", stage="staging")
    assert report.passed
    assert modelreg.history(registry.root, model="churn") == []


def test_promote_dry_run_returns_the_change_and_pushes_nothing(churn_pushed: Registry) -> None:
    registry = churn_pushed
    before = registry.git("ls-remote", "origin")
    proposal = modelreg.promote(
        registry.root, model="churn", version="v1.0.0", stage="staging", dry_run=True
    )
    assert proposal is not None and proposal.dry_run and proposal.pr is None
    assert "staging" in proposal.change.title
    assert registry.git("ls-remote", "origin") == before


def test_errors_from_python_carry_their_exit_code(registry: Registry) -> None:
    import pytest

    from modelreg.errors import ModelregError

    with pytest.raises(ModelregError) as caught:
        modelreg.status(registry.root, model="nope")
    assert caught.value.exit_code == 2 and "nope" in str(caught.value)
