"""Stage `train`: a ridge regression on out/train.csv → out/model.pkl.

Other than numeric columns are one-hot encoded (categories unseen in training are
ignored at prediction time); the label column is params' prepare.target.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import pandas as pd
import yaml
from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder


def main() -> None:
    params = yaml.safe_load(Path("params.yaml").read_text())
    p = params["train"]
    x = pd.read_csv("out/train.csv")
    y = x.pop(params["prepare"].get("target", "target"))
    features = make_column_transformer(
        ("passthrough", make_column_selector(dtype_include="number")),
        (OneHotEncoder(handle_unknown="ignore"), make_column_selector(dtype_exclude="number")),
    )
    model = make_pipeline(features, Ridge(alpha=p["alpha"])).fit(x, y)
    Path("out/model.pkl").write_bytes(pickle.dumps(model))


if __name__ == "__main__":
    main()
