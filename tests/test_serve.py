"""`serve`: a real uvicorn server on 127.0.0.1 serving a real local deployment."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import Prebuilt, Registry
from modelreg.adapters.tables import read_table
from modelreg.serving.manifest import Share
from modelreg.serving.predict import bucket, route
from modelreg.serving.server import Endpoint, Loaded
from test_deploy import FEATURES
from test_predict import deployed_canary, rows, write_csv

ROW = [17.99, 10.38, 122.8, 1001.0, 0.1184]
SRC = str(Path(__file__).resolve().parents[1] / "src")


def deployed(registry: Registry) -> None:
    """churn v1.0.0 stable, v1.1.0 canary at 20%, deployed to production (built once)."""
    deployed_canary(registry)


@dataclass
class Served:
    """A running `modelreg serve` and the folders it uses."""

    proc: subprocess.Popen[bytes]
    port: int
    deploy: Path
    logs: Path
    root: Path

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            data = body if isinstance(body, bytes) else None  # sent as it is
            data = data or (json.dumps(body).encode() if body is not None else None)
            conn.request(method, path, data, headers or {})
            resp = conn.getresponse()
            raw = resp.read()
            hdrs = {k.lower(): v for k, v in resp.getheaders()}
        finally:
            conn.close()
        ctype = hdrs.get("content-type", "")
        return resp.status, hdrs, json.loads(raw) if "json" in ctype else raw.decode()

    def post(self, path: str, body: Any, **headers: str) -> tuple[int, dict[str, str], Any]:
        return self.request(
            "POST", path, body, {k.replace("_", "-"): v for k, v in headers.items()}
        )

    def get(self, path: str) -> tuple[int, dict[str, str], Any]:
        return self.request("GET", path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start(reg: Registry, tmp: Path, *, workers: int = 1, **extra: str) -> Served:
    """Copy the deployment aside (tests change it) and serve it; wait until ready."""
    deploy = tmp / "deploy"
    shutil.copytree(reg.root / ".modelreg/deploy/production", deploy)
    logs, port = tmp / "logs", free_port()
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.update(extra)
    cmd = [sys.executable, "-m", "modelreg", "serve", "--port", str(port)]
    cmd += ["--deploy-dir", str(deploy), "--log-dir", str(logs), "--workers", str(workers)]
    proc = subprocess.Popen(cmd, cwd=reg.root, env=env, stderr=subprocess.PIPE)
    served = Served(proc, port, deploy, logs, reg.root)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read().decode() if proc.stderr else "exited")
        try:
            if served.get("/v2/health/ready")[0] == 200:
                return served
        except OSError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("server did not become ready")


def stop(served: Served) -> None:
    served.proc.terminate()
    try:
        served.proc.wait(10)
    except subprocess.TimeoutExpired:
        served.proc.kill()


@pytest.fixture(scope="module")
def reg(prebuilt: Prebuilt) -> Registry:
    reg = prebuilt.registry(deployed)
    # the entity key routes requests: read from the working tree's model.yaml
    model_yaml = reg.root / "models/churn/model.yaml"
    model_yaml.write_text(model_yaml.read_text() + "entity_key: customer_id\n")
    return reg


@pytest.fixture(scope="module")
def server(reg: Registry, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    served = start(reg, tmp_path_factory.mktemp("serve"))
    yield served
    stop(served)


def manifest_of(served: Served) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((served.deploy / "manifest.json").read_text())
    return data


def rewrite(served: Served, data: dict[str, Any]) -> None:
    tmp = served.deploy / "manifest.json.tmp"
    tmp.write_text(json.dumps(data))
    tmp.replace(served.deploy / "manifest.json")


def wait_for(check: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        empty = isinstance(got, (list, tuple, str)) and not got
        if got is not None and got is not False and not empty:
            return got
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


# -- without a server -----------------------------------------------------------------


def endpoint(weight: int) -> Endpoint:
    def loaded(version: str, role: str, w: int) -> Loaded:
        share = Share(version=version, weight=w, role=role, md5="0" * 32)
        return Loaded(share, None, ("x",), ("float",), True, False)

    versions = (loaded("v1.0.0", "stable", 100 - weight), loaded("v1.1.0", "candidate", weight))
    return Endpoint("churn", "production", None, versions)


@pytest.mark.parametrize("weight", [10, 20, 50])
def test_the_split_is_within_two_points_of_the_weight_over_10000_keys(weight: int) -> None:
    ep = endpoint(weight)
    picks = [ep.pick(f"customer-{i}").share.version for i in range(10_000)]
    share = picks.count("v1.1.0") / 10_000
    assert abs(share - weight / 100) <= 0.02, share
    # the same function `predict` routes by: a key's version follows its bucket
    assert all((v == "v1.1.0") == (bucket(f"customer-{i}") < weight) for i, v in enumerate(picks))
    shares = [v.share for v in ep.versions]
    assert route([f"customer-{i}" for i in range(10_000)], shares) == picks


@pytest.mark.slow  # shares the served registry with the server tests (built once, slow tier)
def test_predict_routes_rows_by_model_yamls_entity_key_as_serve_routes_requests(
    reg: Registry, tmp_path: Path
) -> None:
    from modelreg.errors import UsageError
    from modelreg.registry.records import ModelSpec
    from modelreg.serving.predict import entity_key, predict

    assert ModelSpec.from_dict({"name": "m", "entity_key": "customer_id"}).entity_key == (
        "customer_id"
    )
    assert entity_key(reg.root, "churn") == "customer_id"
    df = rows(400)
    df.insert(1, "customer_id", [f"customer-{i}" for i in range(400)])
    csv = write_csv(reg, "keyed.csv", df)
    got = predict(
        reg.root,
        model="churn",
        stage="production",
        input=csv,
        output=tmp_path / "out.csv",
        log_dir=tmp_path / "log",
    )
    assert got.key == "customer_id"  # not the `id` column predict used to default to
    scored = read_table(tmp_path / "out.csv")
    ep = endpoint(20)
    assert [ep.pick(k).share.version for k in scored["customer_id"]] == list(scored["version"])
    with pytest.raises(UsageError, match="entity_key 'customer_id'"):
        predict(
            reg.root,
            model="churn",
            stage="production",
            input=write_csv(reg, "unkeyed.csv", rows(5)),
            output=tmp_path / "o2.csv",
        )


# -- a real server --------------------------------------------------------------------


@pytest.mark.slow
def test_health_metadata_and_the_prometheus_probe(server: Served) -> None:
    assert server.get("/v2/health/live")[0] == 200
    status, _, ready = server.get("/v2/health/ready")
    assert status == 200 and ready["models"] == ["churn", "churn-production"]
    assert server.get("/v2/models/churn/ready")[0] == 200
    status, _, meta = server.get("/v2/models/churn")
    assert status == 200
    assert [i["name"] for i in meta["inputs"]] == FEATURES
    assert {i["datatype"] for i in meta["inputs"]} == {"FP64"}
    assert [s["version"] for s in meta["parameters"]["served"]] == ["v1.0.0", "v1.1.0"]
    assert meta["parameters"]["entity_key"] == "customer_id"
    assert server.get("/v2/models/nope/ready")[0] == 404
    # clients tell modelreg serve from Prometheus by this 404
    assert server.get("/api/v1/status/buildinfo")[0] == 404


@pytest.mark.slow
def test_v1_takes_rows_as_lists_or_objects_and_v2_per_feature_inputs_or_a_tensor(
    server: Served,
) -> None:
    status, hdrs, out = server.post("/v1/models/churn:predict", {"instances": [ROW, ROW]})
    assert status == 200, out
    assert len(out["predictions"]) == 2 and set(out["predictions"]) <= {0, 1}
    assert len(hdrs["x-request-id"]) == 32  # generated and returned
    obj = dict(zip(FEATURES, ROW, strict=True))
    status, _, by_name = server.post("/v1/models/churn-production:predict", {"instances": [obj]})
    assert status == 200 and by_name["predictions"] == out["predictions"][:1]

    per_feature = {
        "inputs": [
            {"name": f, "shape": [1], "datatype": "FP64", "data": [v]}
            for f, v in zip(FEATURES, ROW, strict=True)
        ]
    }
    status, hdrs, v2 = server.post("/v2/models/churn/infer", per_feature, X_Request_Id="r-1")
    assert status == 200, v2
    assert v2["id"] == "r-1" and hdrs["x-request-id"] == "r-1"
    assert v2["outputs"][0]["data"] == out["predictions"][:1]
    assert v2["outputs"][0]["datatype"] == "INT64"
    assert v2["model_version"] == ("v1.1.0" if bucket("r-1") < 20 else "v1.0.0")
    tensor = {"inputs": [{"name": "x", "shape": [2, 5], "datatype": "FP64", "data": ROW + ROW}]}
    status, _, v2t = server.post("/v2/models/churn/infer", tensor)
    assert status == 200 and len(v2t["outputs"][0]["data"]) == 2


@pytest.mark.slow
def test_bad_input_is_400_or_422_naming_the_field_never_500(server: Served) -> None:
    obj = dict(zip(FEATURES, ROW, strict=True))
    cases = [
        ("/v1/models/churn:predict", {"instances": [{**obj, "mean area": "big"}]}, "mean area"),
        (
            "/v1/models/churn:predict",
            {"instances": [{k: obj[k] for k in FEATURES[1:]}]},
            "mean radius",
        ),
        ("/v1/models/churn:predict", {"instances": [ROW[:4]]}, "instances"),
        ("/v1/models/churn:predict", {"rows": []}, "instances"),
        (
            "/v1/models/churn:predict",
            {"instances": [{**obj, "mean texture": None}]},
            "mean texture",
        ),
        (
            "/v2/models/churn/infer",
            {"inputs": [{"name": f, "shape": [1], "data": [1.0]} for f in FEATURES[:-1]]},
            "mean smoothness",
        ),
        (
            "/v2/models/churn/infer",
            {"inputs": [{"name": "x", "shape": [1, 4], "data": ROW[:4]}]},
            "x",
        ),
    ]
    for path, body, field in cases:
        status, _, out = server.post(path, body)
        assert status in (400, 422), (body, out)
        assert out["field"] == field, out
        assert field in out["error"] or field in ("instances", "x")
    status, _, out = server.request("POST", "/v1/models/churn:predict", None)
    assert status == 400 and out["field"] == "body"
    # Numbers a float cannot hold were a 500 from the model ("Input X contains NaN"), which
    # counted against the serving version's error rate: they are the client's mistake.
    row = ",".join(["1e400", *map(json.dumps, ROW[1:])])

    def v1(first: str) -> tuple[str, str]:
        values = row.replace("1e400", first)
        return "/v1/models/churn:predict", f'{{"instances": [[{values}]]}}'

    def v2(first: str) -> tuple[str, str]:
        values = row.replace("1e400", first)
        tensor = f'{{"inputs": [{{"name": "x", "shape": [1, 5], "data": [{values}]}}]}}'
        return "/v2/models/churn/infer", tensor

    for (path, raw), expected in (
        (v1("1e400"), (422, "mean radius")),
        (v1("-1" + "0" * 400), (422, "mean radius")),
        (v2("1e400"), (422, "mean radius")),
        (v1("NaN"), (400, "body")),
        (v2("-Infinity"), (400, "body")),
    ):
        status, _, out = server.post(path, raw.encode())
        assert (status, out["field"]) == expected, (raw, out)
    _, _, metrics = server.get("/metrics")
    assert (
        'modelreg_input_problems_total{feature="mean area",model="churn",'
        'problem="invalid",stage="production"}' in metrics
    )
    assert 'problem="missing"' in metrics


NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**1100), max_value=2**1100),
)


@given(st.lists(st.lists(NUMBERS, min_size=3, max_size=3), min_size=1, max_size=4))
def test_rows_reach_the_model_only_as_finite_floats_else_422_naming_the_feature(
    rows: list[list[float | int]],
) -> None:
    """What a float cannot hold (inf, nan, an integer past 2**1023) is refused by name,
    whatever the row's shape; everything else reaches the model as it is or as floats."""
    import math

    from modelreg.serving.server import RequestError, _typed

    names = ["a", "b", "c"]
    try:
        typed = _typed(rows, ["float"] * 3, names)
    except RequestError as exc:
        assert exc.status == 422 and exc.field in names and "finite number" in str(exc)
        bad = [math.isfinite(float(v)) if abs(v) < 2**1023 else False for r in rows for v in r]
        assert not all(bad)
        return
    assert all(math.isfinite(float(v)) for row in typed for v in row)


@pytest.mark.slow
def test_a_key_lands_where_its_hash_says_and_rows_split_by_their_entity_key(
    server: Served,
) -> None:
    for rid in ("a", "b", "c", "d", "e", "f"):
        want = "v1.1.0" if bucket(rid) < 20 else "v1.0.0"
        for _ in range(2):
            _, hdrs, _ = server.post(
                "/v1/models/churn:predict", {"instances": [ROW]}, X_Request_Id=rid
            )
            assert hdrs["x-model-version"] == want
    rows = [
        {"customer_id": f"cust-{i}", **dict(zip(FEATURES, ROW, strict=True))} for i in range(10_000)
    ]
    status, hdrs, _ = server.post(
        "/v1/models/churn:predict", {"instances": rows}, X_Request_Id="big"
    )
    assert status == 200 and hdrs["x-model-version"] == "v1.0.0,v1.1.0"
    folder = server.logs / "churn" / "production"

    def logged() -> Any:
        if not folder.is_dir():
            return None
        log = read_table(folder)  # what `drift` reads
        big = log[log["request_id"] == "big"]
        return big if len(big) == 10_000 else None

    big = wait_for(logged)
    share = (big["version"] == "v1.1.0").mean()
    assert abs(share - 0.20) <= 0.02
    assert all((big["version"] == "v1.1.0") == [bucket(k) < 20 for k in big["customer_id"]])
    assert set(big["role"]) == {"stable", "canary"}
    for col in ("timestamp", "model", "stage", "version", *FEATURES, "prediction"):
        assert col in big.columns
    assert list(folder.glob("serve-*.jsonl"))


@pytest.mark.slow
def test_feedback_is_logged_counted_and_shows_in_stats(server: Served) -> None:
    ids = [f"fb-{i}" for i in range(20)]
    preds = {}
    for rid in ids:
        _, _, out = server.post("/v1/models/churn:predict", {"instances": [ROW]}, X_Request_Id=rid)
        preds[rid] = out["predictions"][0]
    labels = [
        {"request_id": rid, "label": preds[rid] if i < 15 else 1 - preds[rid]}
        for i, rid in enumerate(ids)
    ]
    status, _, out = server.post("/v1/feedback", [*labels, {"request_id": "nope", "label": 1}])
    assert status == 200 and out == {"recorded": 21, "matched": 20}
    assert server.post("/v1/feedback", {"label": 1})[0] == 400
    _, _, stats = server.get("/v1/stats?model=churn&stage=production&interval=60")
    assert stats["interval_seconds"] == 60
    versions = stats["versions"]
    assert set(versions) == {"v1.0.0", "v1.1.0"}
    assert versions["v1.1.0"]["role"] == "canary" and versions["v1.0.0"]["role"] == "stable"
    assert sum(v["feedback_total"] for v in versions.values()) == 20
    assert sum(v["feedback_correct"] for v in versions.values()) == 15
    for v in versions.values():
        assert v["latency_buckets"]["+Inf"] == v["requests"] > 0
        assert v["errors"] == 0
    folder = server.logs / "churn" / "production" / "feedback"
    lines = wait_for(lambda: _feedback_rows(folder, 20))
    assert set(lines["request_id"]) == set(ids) and "label" in lines.columns
    assert wait_for(lambda: list((server.logs / "feedback").glob("feedback-*.jsonl")))


@pytest.mark.slow
def test_metrics_carry_the_shared_names_and_labels(server: Served) -> None:
    server.post("/v1/models/churn:predict", {"instances": [ROW]}, X_Request_Id="m-1")
    _, hdrs, text = server.get("/metrics")
    assert hdrs["content-type"].startswith("text/plain")
    for name in (
        "modelreg_requests_total{",
        "modelreg_request_duration_seconds_bucket{",
        "modelreg_predictions_total{",
        "modelreg_model_ready{",
    ):
        assert name in text, name
    assert 'role="canary"' in text and 'role="stable"' in text
    assert 'le="0.0025"' in text
    assert 'modelreg_model_ready{model="churn",stage="production",version="v1.1.0"} 1.0' in text


def predictor(served: Served, stop: threading.Event, seen: list[tuple[int, str]]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    body = json.dumps({"instances": [ROW]})
    n = 0
    while not stop.is_set() and n < 1000:
        n += 1
        try:
            conn.request("POST", "/v1/models/churn:predict", body, {"X-Request-Id": f"k{n}"})
            resp = conn.getresponse()
            resp.read()
            seen.append((resp.status, resp.getheader("X-Model-Version") or ""))
        except OSError as exc:
            seen.append((0, str(exc)))
            conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    conn.close()


def add_version(served: Served, version: str, data: bytes, md5: str) -> dict[str, Any]:
    """A manifest whose canary is `version` at 50%, with `data` as its deployed bytes."""
    rel = f"churn/{version}/model.pkl"
    (served.deploy / rel).parent.mkdir(parents=True, exist_ok=True)
    (served.deploy / rel).write_bytes(data)
    m = manifest_of(served)
    cand = m["models"]["churn"]["versions"][1]
    cand.update(
        version=version,
        artifact=rel,
        md5=md5,
        weight=50,
        sha256=hashlib.sha256(data).hexdigest() if data else None,
    )
    return m


@pytest.mark.slow
def test_hot_reload_under_load_swaps_with_no_failed_request_and_refuses_a_tampered_version(
    reg: Registry, tmp_path: Path
) -> None:
    served = start(reg, tmp_path)
    try:
        stop_flag, seen = threading.Event(), []  # type: ignore[var-annotated]
        threads = [
            threading.Thread(target=predictor, args=(served, stop_flag, seen)) for _ in range(2)
        ]
        for t in threads:
            t.start()
        good = (served.deploy / "churn/v1.0.0/model.pkl").read_bytes()
        rewrite(served, add_version(served, "v1.2.0", good, hashlib.md5(good).hexdigest()))
        wait_for(lambda: any(v == "v1.2.0" for _, v in seen[-50:]))
        # v1.3.0's bytes do not match its md5: never swapped in, shown in readiness
        bad = add_version(served, "v1.3.0", good + b"x", hashlib.md5(good).hexdigest())
        bad["models"]["churn"]["versions"][1]["sha256"] = hashlib.sha256(good).hexdigest()
        rewrite(served, bad)
        _, _, ready = wait_for(lambda: (r := served.get("/v2/models/churn/ready"))[0] == 503 and r)
        assert "v1.3.0" in ready["failures"] and "md5" in ready["failures"]["v1.3.0"]
        assert ready["serving"] == ["v1.0.0", "v1.2.0"]
        time.sleep(0.5)
        stop_flag.set()
        for t in threads:
            t.join()
        assert seen and all(status == 200 for status, _ in seen), [s for s in seen if s[0] != 200][
            :3
        ]
        assert {v for _, v in seen} <= {"v1.0.0", "v1.1.0", "v1.2.0"}
        assert len(seen) <= 2000
        _, _, text = served.get("/metrics")
        assert (
            'modelreg_model_load_failures_total{model="churn",stage="production",'
            'version="v1.3.0"} 1.0' in text
        )
        _, hdrs, _ = served.post("/v1/models/churn:predict", {"instances": [ROW]}, X_Request_Id="z")
        assert hdrs["x-model-version"] in ("v1.0.0", "v1.2.0")
    finally:
        stop(served)


def _feedback_rows(folder: Path, n: int) -> Any:
    # The writer thread creates a file before it writes to it: an empty one is not ready.
    if not folder.is_dir() or any(f.stat().st_size == 0 for f in folder.glob("*.jsonl")):
        return None
    rows = read_table(folder)
    return rows if len(rows) == n else None


@pytest.mark.slow
def test_two_workers_log_one_file_each_share_metrics_and_lose_or_double_no_feedback(
    reg: Registry, tmp_path: Path
) -> None:
    prom = tmp_path / "prom"
    prom.mkdir()
    served = start(reg, tmp_path, workers=2, PROMETHEUS_MULTIPROC_DIR=str(prom))
    # ready answers once one worker is up; wait for the other's ready gauge too
    wait_for(lambda: len(list(prom.glob("gauge_livemax_*.db"))) == 2, timeout=60)
    ids: list[str] = []
    logs_dir = served.logs / "churn" / "production"

    def predict(rid: str) -> int:
        return served.post("/v1/models/churn:predict", {"instances": [ROW]}, X_Request_Id=rid)[0]

    def feedback(rid: str) -> int:
        return served.post("/v1/feedback", {"request_id": rid, "label": 1})[0]

    try:
        # new connections from 8 threads at once, until both workers have answered some
        with ThreadPoolExecutor(8) as pool:
            for round_ in range(20):
                batch = [f"mw-{round_:02d}-{i:02d}" for i in range(40)]
                assert set(pool.map(predict, batch)) == {200}
                ids += batch
                if wait_for(lambda: list(logs_dir.glob("serve-*.jsonl")), 5)[1:]:
                    break
            # each label once, in parallel too: many reach the worker that did not predict
            assert set(pool.map(feedback, ids)) == {200}
        # every worker reads every worker's counters (prometheus-client multiprocess mode)
        for _ in range(4):
            _, _, stats = served.get("/v1/stats?model=churn&stage=production&interval=60")
            assert sum(v["requests"] for v in stats["versions"].values()) == len(ids)
            text = served.get("/metrics")[2]
            total = sum(
                float(line.rsplit(" ", 1)[1])
                for line in text.splitlines()
                if line.startswith("modelreg_requests_total{")
            )
            assert total == len(ids)
    finally:
        stop(served)
    logs = sorted((served.logs / "churn" / "production").glob("serve-*.jsonl"))
    pids = {int(p.name.split("-")[2]) for p in logs}
    assert len(pids) == len(logs) == 2, logs  # one file per worker, both served
    served_ids = [json.loads(x)["request_id"] for p in logs for x in p.read_text().splitlines()]
    # each prediction logged once, by the worker that made it
    assert sorted(served_ids) == sorted(ids)
    labelled = [
        json.loads(x)
        for p in served.logs.rglob("feedback-*.jsonl")
        for x in p.read_text().splitlines()
    ]
    assert sorted(f["request_id"] for f in labelled) == sorted(ids)  # each once, none lost
    # a label the predicting worker took is joined to its version; the others keep the id,
    # so `drift --labels FILE --key request_id` joins them with the prediction log
    assert all(f.get("version") in (None, "v1.0.0", "v1.1.0") for f in labelled)
    for pid in pids:  # no worker outlives the server
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


@pytest.mark.slow
def test_running_serves_from_a_thread_and_stops_on_an_error(reg: Registry, tmp_path: Path) -> None:
    from modelreg.serving.server import resolve, running

    deploy = tmp_path / "deploy"
    shutil.copytree(reg.root / ".modelreg/deploy/production", deploy)
    config = resolve(
        reg.root, deploy_dir=deploy, log_dir=tmp_path / "logs", faults=[("churn", "v1.1.0", 1.0)]
    )
    before = threading.active_count()
    with pytest.raises(KeyboardInterrupt), running(config) as url:
        port = int(url.rsplit(":", 1)[1])
        served = Served(None, port, deploy, tmp_path / "logs", reg.root)  # type: ignore[arg-type]
        canary = next(f"k-{i}" for i in range(100) if bucket(f"k-{i}") < 20)
        status, headers, out = served.post(
            "/v1/models/churn:predict", {"instances": [ROW]}, X_Request_Id=canary
        )
        assert status == 500 and headers["x-model-version"] == "v1.1.0"
        assert "--inject-errors" in out["error"]
        raise KeyboardInterrupt  # Ctrl-C in the caller
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1)
    assert wait_for(lambda: threading.active_count() <= before + 3)  # daemon pollers wind down


@pytest.mark.parametrize(
    "text", ["churn@v1.1.0", "churn=0.1", "churn@v1=0.1", "Churn@v1.1.0=0.1", "churn@v1.1.0=2"]
)
def test_inject_errors_takes_model_at_version_equals_a_share(text: str) -> None:
    from modelreg.errors import UsageError
    from modelreg.serving.server import injected, parse_fault

    with pytest.raises(UsageError):
        parse_fault(text)
    assert parse_fault("churn@v1.1.0=0.1") == ("churn", "v1.1.0", 0.1)
    share = sum(injected(f"r-{i}", 0.1) for i in range(10_000)) / 10_000
    assert abs(share - 0.1) <= 0.01


_VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(),
    st.booleans(),
    st.none(),
    st.text(max_size=5),
)


@settings(max_examples=40, deadline=None)
@given(
    features=st.sampled_from([["a b", 'c"q', "é%s"], ["version", "x"], ["x", "cust"], ["x%"]]),
    n=st.integers(1, 4),
    key=st.sampled_from([None, "cust"]),
    data=st.data(),
)
def test_the_fast_log_line_is_the_json_of_the_record(
    features: list[str], n: int, key: str | None, data: Any, tmp_path_factory: Any
) -> None:
    """The log writer formats lines by hand; they must be what json.dumps of the dict was."""
    from modelreg.serving.predlog import Batch, LineWriter

    rows = [[data.draw(_VALUES) for _ in features] for _ in range(n)]
    batch = Batch(
        ts=1.7e9,
        model="churn",
        stage="production",
        request_id='r"1%s',
        features=features,
        rows=rows,
        versions=[data.draw(st.sampled_from(["v1.0.0", "v1.1.0"])) for _ in rows],
        roles=[data.draw(st.sampled_from(["stable", "canary"])) for _ in rows],
        predictions=[
            data.draw(st.sampled_from([0, 1.5, "cat", float("nan"), 2**70])) for _ in rows
        ],
        key_name=key,
        keys=[f"k{i}%" for i in range(n)] if key else None,
    )
    writer = LineWriter(tmp_path_factory.mktemp("log"))
    try:
        writer.write(batch)  # by hand, or through a dict when a feature shadows a field
        writer.write_records(batch)  # the reference: a dict through json.dumps
        writer.flush()
        (path,) = writer.log_dir.rglob("serve-*.jsonl")
        lines = path.read_text().splitlines()
    finally:
        writer.close()
    assert lines[:n] == lines[n:]


_NUMBERS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.integers(-(2**60), 2**60),
)


@settings(max_examples=25, deadline=None)
@given(
    rows=st.lists(st.lists(_NUMBERS, min_size=3, max_size=3), min_size=1, max_size=5),
    extra=st.sampled_from(["", ', "id": "[[\\"instances\\": [1]]"', ', "parameters": {"a": [1]}']),
    spaces=st.booleans(),
    one_version=st.booleans(),
    key=st.sampled_from([None, "customer_id"]),
)
def test_the_writer_logs_a_v1_body_byte_for_byte_as_the_records_drift_reads(
    rows: list[list[float]],
    extra: str,
    spaces: bool,
    one_version: bool,
    key: str | None,
    tmp_path_factory: Any,
) -> None:
    """The worker hands rows of numbers over as the request body; the writer takes their
    text from it. Whatever the body around them, the lines are json.dumps of the records
    (for numbers as Python writes them), which `drift` reads."""
    from modelreg.serving.predlog import Batch, LineWriter

    sep = (", ", ": ") if spaces else (",", ":")
    body = json.dumps({"instances": rows}, separators=sep)[:-1] + extra + "}"
    assert json.loads(body)["instances"] == rows
    n = len(rows)
    versions: Any = "v1.0.0" if one_version else ["v1.0.0", "v1.1.0"] * n
    roles: Any = "stable" if one_version else ["stable", "canary"] * n
    common = dict(ts=1.7e9, model="churn", stage="production", request_id="r-1", key_name=key)
    common["keys"] = [f"c-{i}" for i in range(n)] if key else None
    features = ["a", "b b", "c%"]
    preds = [i % 2 for i in range(n)]
    by_text = Batch(
        **common,  # type: ignore[arg-type]
        features=features,
        rows=(),
        versions=versions if one_version else versions[:n],
        roles=roles if one_version else roles[:n],
        predictions=preds,
        raw=body.encode(),
    )
    reference = Batch(
        **common,  # type: ignore[arg-type]
        features=features,
        rows=rows,
        versions=[versions] * n if one_version else versions[:n],
        roles=[roles] * n if one_version else roles[:n],
        predictions=preds,
    )
    folder = tmp_path_factory.mktemp("log")
    writer = LineWriter(folder)
    writer.write(by_text)
    writer.write_records(reference)
    writer.close()
    (path,) = folder.rglob("serve-*.jsonl")
    lines = path.read_text().splitlines()
    assert lines[:n] == lines[n:]
    assert [[json.loads(x)[f] for f in features] for x in lines[:n]] == rows


def test_a_dead_log_writer_is_reported_and_replaced_and_the_log_goes_on(tmp_path: Path) -> None:
    """The writer is a process of its own: killed, the worker says so (with what may be
    lost), starts another one and the rows of the next requests are written."""
    from modelreg.serving.predlog import Batch, LogWriter

    said: list[str] = []
    writer = LogWriter(tmp_path, on_failure=said.append)

    def request(rid: str) -> Batch:
        body = json.dumps({"instances": [ROW, ROW]}).encode()
        stage = ("churn", "production")
        return Batch(1.7e9, *stage, rid, FEATURES, (), "v1.0.0", "stable", [0, 1], raw=body)

    try:
        writer.put(request("before"))
        writer.drain()
        first = writer.pid
        os.kill(first, 9)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not said:
            writer.put(request("after"))  # refused by the dead writer: sent to the next
            writer.drain()
        assert len(said) == 1 and f"pid {first}" in said[0] and "exited" in said[0]
        assert writer.pid != first and writer.failures == 1
        writer.put(request("later"))  # the next request after the report goes to the new one
        writer.drain()
    finally:
        writer.close()
    logs = tmp_path.rglob("serve-*.jsonl")
    ids = [json.loads(x)["request_id"] for p in logs for x in p.read_text().splitlines()]
    assert ids[:2] == ["before", "before"] and ids.count("later") == 2
