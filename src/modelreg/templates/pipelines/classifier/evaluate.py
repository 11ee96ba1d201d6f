"""Stage `evaluate`: holdout metrics → out/metrics.json, input sample → out/sample.csv.

`python evaluate.py MODEL METRICS` scores another model file on the same holdout
(modelreg uses it to compare a retrained candidate with the serving version fairly).
The metrics name their holdout by its content (`holdout@sha256:<12 hex>`), so two
versions' recorded metrics count as comparable only when they were measured on the
very same rows.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import pickle
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score


def main(argv: list[str]) -> None:
    model_path = argv[0] if argv else "out/model.pkl"
    metrics_path = argv[1] if len(argv) > 1 else "out/metrics.json"
    model = pickle.loads(Path(model_path).read_bytes())
    target = yaml.safe_load(Path("params.yaml").read_text())["prepare"].get("target", "target")
    holdout = Path("out/test.csv")
    digest = hashlib.sha256(holdout.read_bytes()).hexdigest()[:12]
    x = pd.read_csv(holdout)
    y = x.pop(target)
    pred, proba = model.predict(x), model.predict_proba(x)
    classes = list(model.classes_)
    # Two classes: scores of the positive class (the second of classes_); more: macro
    # averages and one-vs-rest AUC over every class the model knows.
    if len(classes) == 2:
        avg: dict[str, Any] = {"average": "binary", "pos_label": classes[1]}
        auc = {"y_score": proba[:, 1]}
    else:
        avg = {"average": "macro"}
        auc = {"y_score": proba, "multi_class": "ovr", "labels": classes}
    metrics = {
        "dataset": f"holdout@sha256:{digest}",
        "accuracy": accuracy_score(y, pred),
        "precision": precision_score(y, pred, zero_division=0, **avg),
        "recall": recall_score(y, pred, zero_division=0, **avg),
        "f1": f1_score(y, pred, zero_division=0, **avg),
    }
    with contextlib.suppress(ValueError):  # a holdout missing a class has no AUC
        metrics["roc_auc"] = roc_auc_score(y, **auc)
    rounded = {k: v if isinstance(v, str) else round(float(v), 4) for k, v in metrics.items()}
    Path(metrics_path).write_text(json.dumps(rounded, indent=2) + "\n")
    if not argv:
        x.head(50).to_csv("out/sample.csv", index=False)


if __name__ == "__main__":
    main(sys.argv[1:3])
