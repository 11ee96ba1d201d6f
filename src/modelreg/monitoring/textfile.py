"""A drift verdict in node-exporter's textfile-collector format (`modelreg_drift.prom`)."""

from __future__ import annotations

TEXTFILE = "modelreg_drift.prom"
# insufficient data is no verdict: reported as ok (0) so no alert fires on a quiet day
STATUS = {"ok": 0, "insufficient": 0, "warn": 1, "critical": 2}


def drift_textfile(model: str, stage: str, verdict: str) -> str:
    """The gauge `modelreg_drift_status{model,stage}`: 0 ok, 1 warning, 2 critical."""
    value = STATUS.get(verdict, 0)
    return (
        "# HELP modelreg_drift_status Latest drift verdict: 0 ok, 1 warning, 2 critical.\n"
        "# TYPE modelreg_drift_status gauge\n"
        f'modelreg_drift_status{{model="{model}",stage="{stage}"}} {value}\n'
    )
