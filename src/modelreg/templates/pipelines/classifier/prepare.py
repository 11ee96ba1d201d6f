"""Stage `prepare`: every data batch → rows inside the window → train/test split."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import yaml
from sklearn.model_selection import train_test_split


def main(batches: Path) -> None:
    p = yaml.safe_load(Path("params.yaml").read_text())["prepare"]
    files = sorted(batches.glob("*.csv"))
    data = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    data = data.sort_values("timestamp", kind="stable", ignore_index=True)
    when = pd.to_datetime(data.pop("timestamp"), utc=True, format="ISO8601")
    if p["window_days"]:
        data = data[when >= when.max() - pd.Timedelta(days=p["window_days"])]
    train, test = train_test_split(
        data, test_size=p["test_size"], random_state=p["seed"], stratify=data["target"]
    )
    Path("out").mkdir(exist_ok=True)
    train.to_csv("out/train.csv", index=False)
    test.to_csv("out/test.csv", index=False)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
