"""Stage `evaluate`: holdout metrics → out/metrics.json, input sample → out/sample.csv.

`python evaluate.py MODEL METRICS` scores another model file on the same holdout
(modelreg uses it to compare a retrained candidate with the serving version fairly).
The metrics name their holdout by its content (`holdout@sha256:<12 hex>`), so two
versions' recorded metrics count as comparable only when they were measured on the
very same rows.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import sys
from pathlib import Path

import pandas as pd
import yaml
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score


def main(argv: list[str]) -> None:
    model_path = argv[0] if argv else "out/model.pkl"
    metrics_path = argv[1] if len(argv) > 1 else "out/metrics.json"
    model = pickle.loads(Path(model_path).read_bytes())
    target = yaml.safe_load(Path("params.yaml").read_text())["prepare"].get("target", "target")
    holdout = Path("out/test.csv")
    digest = hashlib.sha256(holdout.read_bytes()).hexdigest()[:12]
    x = pd.read_csv(holdout)
    y = x.pop(target)
    pred = model.predict(x)
    metrics = {
        "dataset": f"holdout@sha256:{digest}",
        "rmse": mean_squared_error(y, pred) ** 0.5,
        "mae": mean_absolute_error(y, pred),
        "r2": r2_score(y, pred),
    }
    rounded = {k: v if isinstance(v, str) else round(float(v), 4) for k, v in metrics.items()}
    Path(metrics_path).write_text(json.dumps(rounded, indent=2) + "\n")
    if not argv:
        x.head(50).to_csv("out/sample.csv", index=False)


if __name__ == "__main__":
    main(sys.argv[1:3])
