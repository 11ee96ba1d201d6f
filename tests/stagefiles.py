"""Writing a model's stages by hand in tests, as a merged promotion would leave them."""

from __future__ import annotations

from pathlib import Path

import yaml


def write_stages(root: Path, model: str, text: str) -> None:
    """One file per stage from a mapping of stage → assignment given as YAML text
    (`"staging:\\n  version: v1.0.0\\n"`); stages it does not name lose their file."""
    wanted = yaml.safe_load(text) or {}
    folder = root / "models" / model / "stages"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.yaml"):
        if old.stem not in wanted:
            old.unlink()
    for stage, body in wanted.items():
        (folder / f"{stage}.yaml").write_text(yaml.safe_dump(body, sort_keys=False))
