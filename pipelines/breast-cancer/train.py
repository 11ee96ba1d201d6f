"""Stage `train`: a scaled logistic regression on out/train.csv → out/model.pkl."""

from __future__ import annotations

import pickle
from pathlib import Path

import pandas as pd
import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def main() -> None:
    p = yaml.safe_load(Path("params.yaml").read_text())["train"]
    x = pd.read_csv("out/train.csv")
    y = x.pop("target")
    model = make_pipeline(StandardScaler(), LogisticRegression(C=p["C"], max_iter=p["max_iter"]))
    model.fit(x, y)
    Path("out/model.pkl").write_bytes(pickle.dumps(model))


if __name__ == "__main__":
    main()
