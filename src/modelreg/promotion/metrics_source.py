"""Where a canary's online metrics come from: a file, `modelreg serve`, or Prometheus.

`--metrics URL` is probed: Prometheus answers `/api/v1/status/buildinfo`, `modelreg
serve` answers it 404 and is read through its `/v1/stats` endpoint instead. Either
way the figures cover the current step (from the commit that set its weight to now).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from modelreg.errors import UsageError
from modelreg.promotion.online import (
    BUILTINS,
    EXPORTERS,
    Counts,
    Evidence,
    Exporter,
    Online,
    counts_from_stats,
    fill,
    gauge_query,
    interval_text,
    parse_le,
)
from modelreg.registry.policy import AnalysisCheck, RolloutPolicy
from modelreg.registry.yamlio import read_mapping

PROMQL_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def load_online(
    source: str,
    *,
    model: str,
    stage: str,
    candidate: str,
    stable: str,
    policy: RolloutPolicy,
    interval: int,
) -> Online:
    """Online metrics (and, where known, request counts) of the canary and stable versions."""
    if source.startswith(("http://", "https://")):
        from modelreg.adapters.prometheus import probe, serve_stats

        if probe(source) == "serve":
            _builtins_only(policy, "modelreg serve's stats endpoint")
            body = serve_stats(source, model, stage, interval)
            return _from_stats(body, candidate, stable, f"--metrics {source}", "serve")
        q = _Query(
            source,
            model=model,
            stage=stage,
            interval=interval_text(interval),
            exporter=EXPORTERS[policy.exporter],
        )
        return q.online(policy, candidate, stable)
    data = _read(Path(source))
    if isinstance(data.get("versions"), dict):
        _builtins_only(policy, f"--metrics {source} (serve's stats format)")
        return _from_stats(data, candidate, stable, f"--metrics {source}", "file")
    return _from_numbers(data, source, candidate, stable)


def _builtins_only(policy: RolloutPolicy, where: str) -> None:
    for i, c in enumerate(policy.analysis):
        if c.query is not None or c.metric not in BUILTINS:
            what = "has its own query" if c.query else "is not a builtin metric"
            raise UsageError(
                f"analysis[{i}] ({c.metric}) {what}: {where} only knows {', '.join(BUILTINS)}",
                hint="point --metrics at Prometheus, which can run the query",
            )


# --------------------------------------------------------------------------- serve's stats


def _from_stats(
    body: Mapping[str, Any], candidate: str, stable: str, where: str, kind: str
) -> Online:
    versions = body["versions"]
    interval = int(body.get("interval_seconds") or 0)
    cand = _pick(versions, candidate, "canary")
    stab = _pick(versions, stable, "stable")
    c = counts_from_stats(cand, f"{where}: {candidate}") if cand is not None else Counts()
    s = counts_from_stats(stab, f"{where}: {stable}") if stab is not None else Counts()
    evidence = Evidence(c, s, interval)
    return Online(c.values(), s.values() if stab is not None else None, evidence, kind)


def _pick(versions: Mapping[str, Any], version: str, role: str) -> Mapping[str, Any] | None:
    entry = versions.get(version)
    if entry is None:
        entry = next(
            (v for v in versions.values() if isinstance(v, dict) and v.get("role") == role), None
        )
    return entry if isinstance(entry, Mapping) else None


# --------------------------------------------------------------------------- a plain file


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise UsageError(
            f"--metrics {path}: no such file",
            hint="give a JSON/YAML file, a Prometheus URL or modelreg serve's URL",
        )
    return read_mapping(path, "--metrics")


def _from_numbers(data: Mapping[str, Any], source: str, candidate: str, stable: str) -> Online:
    """`{candidate: {metric: value}, stable: {...}}`: figures vouched for by whoever wrote them."""
    by_role = {k: v for k, v in data.items() if isinstance(v, dict)}
    if not by_role:
        return Online(_numbers(data, source), None)
    cand = by_role.get("candidate", by_role.get(candidate))
    stab = by_role.get("stable", by_role.get(stable))
    if cand is None:
        raise UsageError(f"--metrics {source}: no 'candidate' (or '{candidate}') section")
    return Online(_numbers(cand, source), _numbers(stab, source) if stab is not None else None)


def _numbers(d: Mapping[str, Any], source: str) -> dict[str, float]:
    out = {}
    for k, v in d.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise UsageError(f"--metrics {source}: {k}: {v!r} is not a number")
        out[str(k)] = float(v)
    return out


# --------------------------------------------------------------------------- Prometheus


class _Query:
    """Instant queries against one Prometheus for one model, stage and interval."""

    def __init__(
        self, url: str, *, model: str, stage: str, interval: str, exporter: Exporter
    ) -> None:
        self.url = url
        self.params = {"model": model, "stage": stage, "interval": interval}
        self.seconds = int(interval.rstrip("s"))
        self.queries: list[str] = []
        self.memo: dict[str, dict[str, float]] = {}
        self.exporter = exporter

    def run(self, template: str, **extra: str) -> list[Any]:
        from modelreg.adapters.prometheus import instant_query

        promql = fill(template, **self.params, **extra)
        self.queries.append(promql)
        return instant_query(self.url, promql)

    def online(self, policy: RolloutPolicy, candidate: str, stable: str) -> Online:
        cand: dict[str, float] = {}
        stab: dict[str, float] = {}
        for i, check in enumerate(policy.analysis):
            for version, out in ((candidate, cand), (stable, stab)):
                value = self.value(i, check, version)
                if value is not None:
                    out[check.metric] = value
        # Request counts come from the exporter's metrics; a policy of user queries alone
        # may judge a server that has none, so its figures are taken as they come.
        known = self.exporter.builtins
        builtin = any(c.query is None and c.metric in known for c in policy.analysis)
        evidence = self.evidence(policy, candidate, stable) if builtin else None
        return Online(cand, stab or None, evidence, "prometheus", tuple(self.queries))

    def value(self, index: int, check: AnalysisCheck, version: str) -> float | None:
        builtin = self.exporter.builtins.get(check.metric)
        if check.query is None and builtin is not None:
            found = self.by_version(builtin.promql)
            return found.get(version)
        template = check.query if check.query is not None else self.gauge(index, check.metric)
        samples = self.run(template, version=version)
        if len(samples) > 1:
            sets = "; ".join(_labels(s.labels) for s in samples)
            raise UsageError(
                f"analysis[{index}] ({check.metric}): the query returned {len(samples)} series "
                f"for version {version}, so which one to judge is ambiguous: {sets}",
                hint="aggregate it to one series per version, e.g. sum(...) or sum by (version)",
            )
        return samples[0].value if samples else None

    def gauge(self, index: int, metric: str) -> str:
        """A plain gauge `metric{model,version}`; refused unless its name is PromQL's.

        The schema allows `p95-latency` or `acc.online` (fine as keys of a metrics file),
        but Prometheus 2 has no such metric: written bare it parses as a subtraction,
        and no exporter can emit it, so it needs a query of its own.
        """
        if not PROMQL_NAME.fullmatch(metric):
            raise UsageError(
                f"analysis[{index}] ({metric}): not a Prometheus metric name "
                "(letters, digits, _ and :), so modelreg cannot query it as a gauge",
                hint="give the check a `query:` that computes it, or use a builtin metric "
                f"({', '.join(self.exporter.builtins)})",
            )
        return gauge_query(metric)

    def by_version(self, template: str) -> dict[str, float]:
        if template not in self.memo:
            self.memo[template] = self._by_version(template)
        return self.memo[template]

    def _by_version(self, template: str) -> dict[str, float]:
        return {
            s.labels.get("version", ""): s.value
            for s in self.run(template)
            if s.value == s.value  # NaN: no traffic in the window, not a value
        }

    def evidence(self, policy: RolloutPolicy, candidate: str, stable: str) -> Evidence:
        known, promql = self.exporter.builtins, self.exporter.evidence
        judged = [c for c in policy.analysis if c.query is None and c.metric in known]
        kinds = {known[c.metric].kind for c in judged}
        requests = self.by_version(promql["requests"])
        errors = self.by_version(promql["errors"]) if "errors" in kinds else {}
        latency: dict[str, list[tuple[float, float]]] = {}
        if "latency" in kinds:
            for s in self.run(promql["latency"]):
                le = parse_le(s.labels.get("le", "+Inf")) * self.exporter.le_seconds
                latency.setdefault(s.labels.get("version", ""), []).append((le, s.value))
        feedback: dict[tuple[str, str], float] = {}
        if "accuracy" in kinds and "feedback" in promql:
            for s in self.run(promql["feedback"]):
                feedback[(s.labels.get("version", ""), s.labels.get("outcome", ""))] = s.value

        def counts(v: str) -> Counts:
            fb = feedback.get((v, "correct"), 0.0) + feedback.get((v, "wrong"), 0.0)
            return Counts(
                requests=requests.get(v, 0.0),
                errors=errors.get(v, 0.0),
                latency=tuple(sorted(latency.get(v, []))),
                feedback_total=fb,
                feedback_correct=feedback.get((v, "correct"), 0.0),
            )

        return Evidence(counts(candidate), counts(stable), self.seconds)


def _labels(labels: Mapping[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
