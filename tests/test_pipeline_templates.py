"""This repository's pipelines are the templates `modelreg example` scaffolds them from.

pipelines/breast-cancer and pipelines/diabetes were scaffolded from
src/modelreg/templates/pipelines/{common,classifier,regressor}: a kind's own file, else
the common one, with the model name and the data folder filled in. Every file must still
be that, except the train values in params.yaml: the self-registry's history tunes them
(`modelreg train --set train.C=0.1` registers a child version), and test_self_registry
checks the committed params.yaml is the one that trained the latest version. dvc.lock,
data/ and out/ are written by training and scaffolding, not copied from a template.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from modelreg.training.examples import TASKS, TEMPLATE_FILES, _copy_template

ROOT = Path(__file__).resolve().parents[1]
MODELS = sorted(p.parent.name for p in (ROOT / "pipelines").glob("*/dvc.yaml"))
KIND = {task: kind for kind, task in TASKS.items()}


def scaffolded(model: str, tmp_path: Path) -> Path:
    """What `modelreg example` writes for `model` today, from its model.yaml."""
    spec = yaml.safe_load((ROOT / "models" / model / "model.yaml").read_text())
    _copy_template(tmp_path, model, KIND[spec["task"]], spec["outputs"]["data"])
    return tmp_path / "pipelines" / model


def test_the_repository_has_both_example_pipelines() -> None:
    assert MODELS == ["breast-cancer", "diabetes"]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("name", [n for n in TEMPLATE_FILES if n != "params.yaml"])
def test_each_pipeline_file_is_its_template_with_the_model_and_data_filled_in(
    model: str, name: str, tmp_path: Path
) -> None:
    expected = (scaffolded(model, tmp_path) / name).read_text()
    assert (ROOT / "pipelines" / model / name).read_text() == expected


@pytest.mark.parametrize("model", MODELS)
def test_params_differ_from_the_template_only_in_train_values(model: str, tmp_path: Path) -> None:
    template = yaml.safe_load((scaffolded(model, tmp_path) / "params.yaml").read_text())
    params = yaml.safe_load((ROOT / "pipelines" / model / "params.yaml").read_text())
    assert {k: v for k, v in params.items() if k != "train"} == {
        k: v for k, v in template.items() if k != "train"
    }
    assert params["train"].keys() == template["train"].keys()
