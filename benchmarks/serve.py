"""Benchmark `modelreg serve` against a plain FastAPI app, MLServer and the in-process floor.

    python benchmarks/serve.py [--seconds 5] [--only modelreg,plain,mlserver]

Loopback only, bounded (each run lasts --seconds). Load generator: Debian's `hey`.
For each server, workers (1, 2) and request size (1 and 100 rows):
  - closed loop, `hey -c 8 -z Ns`: saturation throughput;
  - constant rate, `hey -c 4 -q R/4 -z Ns` with R = 70 % of the plain app's saturation
    throughput at the same workers and size: latency (p50, p99), compared with the
    in-process floor (the model's own `predict` on the same rows, p99 of 3,000 calls).
`modelreg serve` runs with its metrics, prediction log and a 20 % canary split on.
The plain FastAPI app (the /predict tutorial pattern) and MLServer (mlserver-sklearn)
run from their own venv at benchmarks/.work/mlserver-venv (MLServer pins an older
FastAPI/Starlette than modelreg's):
    python -m venv benchmarks/.work/mlserver-venv
    benchmarks/.work/mlserver-venv/bin/pip install mlserver mlserver-sklearn \
        fastapi uvicorn scikit-learn "uvloop<0.22"
(uvloop 0.22+ breaks MLServer 1.7's parallel workers: "no current event loop".)
MLServer's workers are its `parallel_workers`: 1 worker = 0 (inference in its one
process), 2 workers = 2 inference processes behind its HTTP process.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
VENV = WORK / "mlserver-venv" / "bin"
ROW = [17.99, 10.38, 122.8, 1001.0, 0.1184]
FEATURES = ["mean radius", "mean texture", "mean perimeter", "mean area", "mean smoothness"]

PLAIN_APP = """
import pickle, os
import numpy as np
from fastapi import FastAPI
from pydantic import BaseModel
model = pickle.load(open(os.environ["MODEL_PATH"], "rb"))
app = FastAPI()
class Req(BaseModel):
    instances: list[list[float]]
@app.post("/predict")
def predict(req: Req):
    return {"predictions": model.predict(np.asarray(req.instances)).tolist()}
"""


def build(folder: Path) -> Path:
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    x, y = load_breast_cancer(return_X_y=True)
    data = pickle.dumps(LogisticRegression(max_iter=500).fit(x[:, :5], y))
    deploy = folder / "deploy"
    (deploy / "churn/v1.0.0").mkdir(parents=True, exist_ok=True)
    (deploy / "churn/v1.1.0").mkdir(parents=True, exist_ok=True)
    rows = []
    for version, role, weight in (("v1.0.0", "stable", 80), ("v1.1.0", "candidate", 20)):
        (deploy / f"churn/{version}/model.pkl").write_bytes(data)
        rows.append(
            {
                "version": version,
                "role": role,
                "weight": weight,
                "artifact": f"churn/{version}/model.pkl",
                "md5": hashlib.md5(data).hexdigest(),
                "sha256": hashlib.sha256(data).hexdigest(),
                "size": len(data),
                "format": "sklearn-pickle",
                "record": "",
                "inputs": [{"name": f, "type": "float"} for f in FEATURES],
            }
        )
    manifest = {
        "format": 1,
        "stage": "production",
        "commit": "",
        "deployed_at": "",
        "models": {"churn": {"commit": "", "deployed_at": "", "versions": rows}},
    }
    (deploy / "manifest.json").write_text(json.dumps(manifest))
    ms = folder / "mlserver"
    ms.mkdir(exist_ok=True)
    (ms / "model.joblib").write_bytes(data)
    (ms / "model-settings.json").write_text(
        json.dumps(
            {
                "name": "churn",
                "implementation": "mlserver_sklearn.SKLearnModel",
                "parameters": {"uri": "./model.joblib"},
            }
        )
    )
    (folder / "plain_app.py").write_text(PLAIN_APP)
    return deploy


def port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        p: int = s.getsockname()[1]
        return p


def wait(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {url}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"not ready: {url}")


def hey(url: str, body: str, seconds: int, *, rate: float | None = None) -> dict[str, float]:
    body_file = WORK / "body.json"
    body_file.write_text(body)
    conc = 8 if rate is None else 4
    cmd = ["hey", "-z", f"{seconds}s", "-c", str(conc), "-m", "POST", "-T", "application/json"]
    cmd += ["-D", str(body_file)]
    if rate is not None:
        cmd += ["-q", f"{rate / conc:.2f}"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99% in ([\d.]+) secs", out)
    p50 = re.search(r"50% in ([\d.]+) secs", out)
    codes = re.findall(r"\[(\d+)\]\s+(\d+) responses", out)
    errors = re.findall(r"^\s+\[(\d+)\]\s+(?!\d+ responses)", out, re.MULTILINE)
    bad = sum(int(n) for c, n in codes if c != "200") + sum(int(n) for n in errors)
    if not any(c == "200" for c, _ in codes):
        raise SystemExit(f"{url}: no request succeeded\n{out}")
    return {
        "rps": rps,
        "p50_ms": float(p50.group(1)) * 1000 if p50 else float("nan"),
        "p99_ms": float(p99.group(1)) * 1000 if p99 else float("nan"),
        "non200": bad,
    }


def floor(deploy: Path) -> dict[int, float]:
    """p99 of the model's own predict on the same rows, in this process (ms)."""
    import numpy as np

    est = pickle.loads((deploy / "churn/v1.0.0/model.pkl").read_bytes())
    out = {}
    for n in (1, 100):
        x = np.asarray([ROW] * n)
        times = []
        for _ in range(3000):
            t = time.perf_counter()
            est.predict(x)
            times.append(time.perf_counter() - t)
        times.sort()
        out[n] = times[int(len(times) * 0.99)] * 1000
    return out


def v2_body(n: int) -> str:
    data = [x for _ in range(n) for x in ROW]
    inp = {"name": "input-0", "shape": [n, len(ROW)], "datatype": "FP64", "data": data}
    return json.dumps({"inputs": [inp]})


def servers(kind: str, workers: int, folder: Path, deploy: Path) -> dict[str, object]:
    """How to start one server, and where to send what."""
    if kind == "modelreg":
        return {
            "name": "modelreg serve",
            "cmd": [
                sys.executable,
                "-m",
                "modelreg",
                "serve",
                "--deploy-dir",
                str(deploy),
                "--log-dir",
                str(folder / "logs"),
                "--workers",
                str(workers),
                "--port",
                "{port}",
            ],
            "path": "/v1/models/churn:predict",
            "health": "/v2/health/ready",
            "env": {"PYTHONPATH": str(HERE.parent / "src")},
            "body": lambda n: json.dumps({"instances": [ROW] * n}),
        }
    if kind == "plain":
        return {
            "name": "plain FastAPI /predict",
            "cmd": [
                str(VENV / "uvicorn"),
                "plain_app:app",
                "--workers",
                str(workers),
                "--port",
                "{port}",
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            "path": "/predict",
            "health": "/docs",
            "env": {"MODEL_PATH": str(deploy / "churn/v1.0.0/model.pkl")},
            "body": lambda n: json.dumps({"instances": [ROW] * n}),
        }
    return {
        "name": "MLServer (mlserver-sklearn)",
        "cmd": [str(VENV / "mlserver"), "start", "."],
        "path": "/v2/models/churn/infer",
        "health": "/v2/models/churn/ready",
        "env": {},
        "body": v2_body,
        "settings": {"parallel_workers": 0 if workers == 1 else workers},
    }


def mlserver_settings(folder: Path, http: int, extra: dict[str, object]) -> None:
    settings = {
        "host": "127.0.0.1",
        "http_port": http,
        "grpc_port": port(),
        "metrics_port": port(),
        "metrics_dir": str(folder / "mlserver-metrics"),
        "debug": False,
        **extra,
    }
    (folder / "mlserver" / "settings.json").write_text(json.dumps(settings))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--only", default="plain,modelreg,mlserver", help="servers to run")
    args = ap.parse_args()
    if shutil.which("hey") is None:
        raise SystemExit("install hey: apt-get install hey")
    kinds = [k for k in ("plain", "modelreg", "mlserver") if k in args.only.split(",")]
    if {"plain", "mlserver"} & set(kinds) and not VENV.is_dir():
        raise SystemExit(f"make the venv first: see {__file__}'s docstring")
    WORK.mkdir(exist_ok=True)
    folder = WORK / "serve"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    deploy = build(folder)
    load = os.getloadavg()
    base = floor(deploy)
    results: list[dict[str, object]] = []
    saturation: dict[tuple[int, int], float] = {}
    for workers in (1, 2):
        for kind in kinds:
            spec = servers(kind, workers, folder, deploy)
            p = port()
            cwd = folder
            if kind == "mlserver":
                cwd = folder / "mlserver"
                mlserver_settings(folder, p, spec["settings"])  # type: ignore[arg-type]
            cmd = [c.replace("{port}", str(p)) for c in spec["cmd"]]  # type: ignore[attr-defined]
            proc = subprocess.Popen(
                cmd,
                cwd=cwd,
                env={**os.environ, **spec["env"]},  # type: ignore[dict-item]
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            try:
                wait(f"http://127.0.0.1:{p}{spec['health']}", proc)
                url = f"http://127.0.0.1:{p}{spec['path']}"
                for n in (1, 100):
                    body = spec["body"](n)  # type: ignore[operator]
                    hey(url, body, 1)  # warm up
                    closed = hey(url, body, args.seconds)
                    if kind == "plain":
                        saturation[(workers, n)] = closed["rps"]
                    target = 0.7 * saturation.get((workers, n), closed["rps"])
                    paced = hey(url, body, args.seconds, rate=target)
                    row = {
                        "server": spec["name"],
                        "workers": workers,
                        "rows": n,
                        "saturation_rps": closed["rps"],
                        "closed_non200": closed["non200"],
                        "rate_rps": round(target, 1),
                        "achieved_rps": paced["rps"],
                        "p50_ms": paced["p50_ms"],
                        "p99_ms": paced["p99_ms"],
                        "rate_non200": paced["non200"],
                        "floor_p99_ms": base[n],
                        "p99_overhead_ms": paced["p99_ms"] - base[n],
                    }
                    results.append(row)
                    print(json.dumps(row), flush=True)
            finally:
                os.killpg(proc.pid, 15)  # the server and its workers, started in their session
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, 9)
    out = {
        "load_before": load,
        "load_after": os.getloadavg(),
        "floor_p99_ms": base,
        "results": results,
    }
    (WORK / "serve-results.json").write_text(json.dumps(out, indent=1))
    print(table(results))


def table(results: list[dict[str, object]]) -> str:
    lines = [
        "| server | workers | rows/req | saturation req/s | rate req/s (70 % of plain) "
        "| p50 ms | p99 ms | floor p99 ms | p99 overhead ms | non-200 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['server']} | {r['workers']} | {r['rows']} | {r['saturation_rps']:.0f} "
            f"| {r['rate_rps']:.0f} (got {r['achieved_rps']:.0f}) | {r['p50_ms']:.2f} "
            f"| {r['p99_ms']:.2f} | {r['floor_p99_ms']:.3f} | {r['p99_overhead_ms']:.2f} "
            f"| {int(r['closed_non200']) + int(r['rate_non200'])} |"  # type: ignore[call-overload]
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
