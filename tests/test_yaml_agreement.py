"""modelreg reads every file kind as check-jsonschema (an editor's reading) does (issue 10,
"Hostile and malformed input": what an editor reads is what modelreg reads)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from modelreg.cli import cli
from modelreg.registry.schemas import KINDS, Problem
from modelreg.registry.snapshot import check_text

CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"

POLICY = """\
stages:
  - name: staging
    gates:
      - {metric: accuracy, min: 0.85}
  - name: production
    from: staging
    soak: 24h
    gates:
      - metric: f1
        max_regression: 0.01
    rollout:
      strategy: canary
      steps: [{weight: 10, pause: 1h}, {weight: 100}]
      auto_advance: false
retrain:
  triggers: [drift, schedule]
  schedule: "0 6 * * 1"
"""
VALID = {
    "version": """\
model: churn
version: v1.4.0
created_at: '2026-11-20T09:12:44Z'
created_by: ana@example.com
code_commit: 3f2c9e1
trigger: drift
parent: v1.3.0
artifact:
  path: models/churn/artifacts/v1.4.0/model.pkl
  md5: 9b1e4c0a9b1e4c0a9b1e4c0a9b1e4c0a
  size: 48213
  format: sklearn-pickle
params: {C: 0.5, max_iter: 2000}
metrics:
  dataset: holdout
  accuracy: 0.912
signature:
  inputs: [{name: tenure, type: float}]
""",
    "model": """\
name: churn
owner: [ana]
task: classification
policy: default
headline_metrics: [accuracy, f1]
deprecated: {v1.0.0: leaks labels}
""",
    "stage": """\
version: v1.3.0
rollout: {candidate: v1.4.0, weight: 20, step: 1}
""",
    "stages": """\
staging:
  version: v1.4.0
production:
  version: v1.3.0
  rollout: {candidate: v1.4.0, weight: 20, step: 1}
""",
    "policy": POLICY,
}
TRICKY = [
    "yes",
    "no",
    "on",
    "off",
    "true",
    "False",
    "~",
    "null",
    "012",
    "0o17",
    "0x1F",
    "1_000",
    "1e3",
    ".inf",
    ".nan",
    "-1",
    "0",
    "100",
    "101",
    "'yesterday'",
    "2026-11-20T09:12:44Z",
    "'2026-02-30T00:00:00Z'",
    "2026-11-20",
    '"v1.0.0\\n"',
    "v1.0.0",
    "v\u0661.0.0",
    "'v1.0'",
    "24h",
    "1h30m",
    "'5%'",
    "canary",
    "direct",
    "[]",
    "{}",
    "[a, b]",
    "'x\\ty'",
    "staging",
]
MARKS = ("duplicate key", "anchor", "alias", "merge key")


def _refusal(problem: Problem) -> bool:
    return any(mark in problem.message for mark in MARKS)


@st.composite
def mutated(draw: st.DrawFn, kind: str) -> str:
    lines = VALID[kind].splitlines()
    for _ in range(draw(st.integers(0, 2))):
        i = draw(st.integers(0, len(lines) - 1))
        how = draw(st.sampled_from(["value", "value", "value", "delete", "duplicate", "anchor"]))
        head, sep, _value = lines[i].partition(": ")
        if how == "value" and sep:
            lines[i] = head + sep + draw(st.sampled_from(TRICKY))
        elif how == "delete":
            del lines[i]
        elif how == "duplicate":
            lines.insert(i, lines[i])
        elif how == "anchor" and sep:
            lines[i] = head + sep + "&a " + _value
        if not lines:
            lines = ["{}"]
    return "\n".join(lines) + "\n"


def _check_jsonschema(kind: str, folder: Path, names: list[str]) -> dict[str, str]:
    """The names check-jsonschema fails, from one run over the whole folder."""
    schema = folder / f"{kind}.schema.json"
    printed = CliRunner().invoke(cli, ["schema", kind])
    assert printed.exit_code == 0
    schema.write_text(printed.output)
    out = subprocess.run(
        [str(CHECK_JSONSCHEMA), "--schemafile", str(schema), "-o", "json", *names],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(out.stdout)
    found = report.get("errors", []) + report.get("parse_errors", [])
    return {e["filename"]: e["message"] for e in found}


@pytest.mark.skipif(not CHECK_JSONSCHEMA.exists(), reason="check-jsonschema is not installed")
@pytest.mark.parametrize("kind", KINDS)
def test_validate_agrees_with_check_jsonschema_on_every_file_kind(
    kind: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Issue 10, what an editor reads is what modelreg reads: equal verdicts, except that
    modelreg alone refuses duplicate keys, anchors and aliases."""

    @settings(
        max_examples=2,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.lists(mutated(kind), min_size=40, max_size=40))
    def agree(texts: list[str]) -> None:
        folder = tmp_path_factory.mktemp(kind)
        ours = {
            f"{kind}-{i}.yaml": check_text(kind, "f", text.encode())[1]
            for i, text in enumerate(texts)
        }
        # check-jsonschema 0.39 can fail to parse the file after one with duplicate keys, so
        # the files modelreg refuses as duplicates or anchors (its one licence to be
        # stricter) are not given to it.
        refused = {n for n, probs in ours.items() if probs and all(_refusal(p) for p in probs)}
        names = [n for n in ours if n not in refused]
        for name, text in zip(ours, texts, strict=True):
            (folder / name).write_text(text)
        theirs = _check_jsonschema(kind, folder, names) if names else {}
        for name, text in zip(ours, texts, strict=True):
            if name in theirs:
                assert ours[name], f"only check-jsonschema refuses ({theirs[name]}):\n{text}"
            elif name not in refused:
                assert not ours[name], f"only modelreg refuses: {ours[name]}\n{text}"

    agree()
