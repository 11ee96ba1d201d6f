"""Stage `train`: a ridge regression on out/train.csv → out/model.pkl."""

from __future__ import annotations

import pickle
from pathlib import Path

import pandas as pd
import yaml
from sklearn.linear_model import Ridge


def main() -> None:
    p = yaml.safe_load(Path("params.yaml").read_text())["train"]
    x = pd.read_csv("out/train.csv")
    y = x.pop("target")
    model = Ridge(alpha=p["alpha"]).fit(x, y)
    Path("out/model.pkl").write_bytes(pickle.dumps(model))


if __name__ == "__main__":
    main()
