"""Stage `evaluate`: holdout metrics → out/metrics.json, input sample → out/sample.csv."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score


def main() -> None:
    model = pickle.loads(Path("out/model.pkl").read_bytes())
    x = pd.read_csv("out/test.csv")
    y = x.pop("target")
    pred, score = model.predict(x), model.predict_proba(x)[:, 1]
    metrics = {
        "dataset": "holdout",
        "accuracy": accuracy_score(y, pred),
        "precision": precision_score(y, pred),
        "recall": recall_score(y, pred),
        "f1": f1_score(y, pred),
        "roc_auc": roc_auc_score(y, score),
    }
    rounded = {k: v if isinstance(v, str) else round(float(v), 4) for k, v in metrics.items()}
    Path("out/metrics.json").write_text(json.dumps(rounded, indent=2) + "\n")
    x.head(50).to_csv("out/sample.csv", index=False)


if __name__ == "__main__":
    main()
