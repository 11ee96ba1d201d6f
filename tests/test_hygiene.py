"""The repository names no path of the machine it was written on."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ["README.md", "docs", "src", "benchmarks", "pipelines", "policies", "models", ".github"]
# A home or work folder, or a virtual environment's bin/ below some folder; `.venv/bin/pip`
# typed at the top of a checkout (as the README does) is a command a reader can run.
MACHINE_PATH = re.compile(r"/(?:work|root|home)/|\S/\.?venv/bin/")


def _tracked() -> list[Path]:
    proc = subprocess.run(
        ["git", "ls-files", "-z", "--", *SHIPPED], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, f"the suite runs from a git checkout: {proc.stderr}"
    return [ROOT / name for name in proc.stdout.split("\0") if name]


def test_no_shipped_file_names_a_path_of_the_machine_it_was_written_on() -> None:
    found = []
    for path in _tracked():
        try:
            text = path.read_text()
        except (UnicodeDecodeError, FileNotFoundError):
            continue  # binary, or deleted in the working tree
        for number, line in enumerate(text.splitlines(), 1):
            if MACHINE_PATH.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == []
