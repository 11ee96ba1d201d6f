"""Stage `prepare`: every data batch → rows inside the window → train/test split.

The split is fixed per row (a hash of the row, salted by the seed), so as batches are
added a row never moves between train and test: the serving model can be scored on a
later candidate's test rows without having trained on them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import yaml


def main(batches: Path) -> None:
    p = yaml.safe_load(Path("params.yaml").read_text())["prepare"]
    files = sorted(batches.glob("*.csv"))
    data = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    data = data.sort_values("timestamp", kind="stable", ignore_index=True)
    when = pd.to_datetime(data.pop("timestamp"), utc=True, format="ISO8601")
    if p["window_days"]:
        data = data[when >= when.max() - pd.Timedelta(days=p["window_days"])]
    salt = pd.util.hash_pandas_object(pd.Series([str(p["seed"])]), index=False).iloc[0]
    hashed = pd.util.hash_pandas_object(data.assign(timestamp=when), index=False) ^ salt
    is_test = (hashed % 10_000) < p["test_size"] * 10_000
    train, test = data[~is_test.to_numpy()], data[is_test.to_numpy()]
    Path("out").mkdir(exist_ok=True)
    train.to_csv("out/train.csv", index=False)
    test.to_csv("out/test.csv", index=False)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
