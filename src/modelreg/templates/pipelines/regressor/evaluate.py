"""Stage `evaluate`: holdout metrics → out/metrics.json, input sample → out/sample.csv."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pandas as pd
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score


def main() -> None:
    model = pickle.loads(Path("out/model.pkl").read_bytes())
    x = pd.read_csv("out/test.csv")
    y = x.pop("target")
    pred = model.predict(x)
    metrics = {
        "dataset": "holdout",
        "rmse": mean_squared_error(y, pred) ** 0.5,
        "mae": mean_absolute_error(y, pred),
        "r2": r2_score(y, pred),
    }
    rounded = {k: v if isinstance(v, str) else round(float(v), 4) for k, v in metrics.items()}
    Path("out/metrics.json").write_text(json.dumps(rounded, indent=2) + "\n")
    x.head(50).to_csv("out/sample.csv", index=False)


if __name__ == "__main__":
    main()
