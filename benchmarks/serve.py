"""Benchmark `modelreg serve` against a plain FastAPI app, MLServer and the in-process floor.

    python benchmarks/serve.py [--seconds 5]

Loopback only. Load generator: Debian's `hey` (closed-loop `-c 8` for saturation
throughput; constant rate `-q` for latency at 70 % of the plain app's saturation).
The plain FastAPI app and MLServer (mlserver-sklearn) run from their own venv at
benchmarks/.work/mlserver-venv (they conflict with current FastAPI/Starlette):
    python -m venv benchmarks/.work/mlserver-venv
    benchmarks/.work/mlserver-venv/bin/pip install mlserver mlserver-sklearn \
        fastapi uvicorn scikit-learn
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
    p99 = re.search(r"99%% in ([\d.]+) secs".replace("%%", "%"), out)
    p50 = re.search(r"50% in ([\d.]+) secs", out)
    codes = re.findall(r"\[(\d+)\]\s+(\d+) responses", out)
    bad = sum(int(n) for c, n in codes if c != "200")
    return {
        "rps": rps,
        "p50_ms": float(p50.group(1)) * 1000 if p50 else float("nan"),
        "p99_ms": float(p99.group(1)) * 1000 if p99 else float("nan"),
        "non200": bad,
    }


def floor(deploy: Path) -> dict[str, float]:
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
        out[f"p99_ms_{n}"] = times[int(len(times) * 0.99)] * 1000
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5)
    args = ap.parse_args()
    if shutil.which("hey") is None:
        raise SystemExit("install hey: apt-get install hey")
    WORK.mkdir(exist_ok=True)
    folder = WORK / "serve"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    deploy = build(folder)
    results: dict[str, object] = {"floor": floor(deploy)}
    bodies = {n: json.dumps({"instances": [ROW] * n}) for n in (1, 100)}
    src = str(HERE.parent / "src")
    servers = []
    for workers in (1, 2):
        servers.append(
            (
                f"modelreg serve {workers}w",
                [
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
                "/v1/models/churn:predict",
                "/v2/health/ready",
                {"PYTHONPATH": src},
            )
        )
        if VENV.is_dir():
            servers.append(
                (
                    f"plain FastAPI {workers}w",
                    [
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
                    "/predict",
                    "/docs",
                    {"MODEL_PATH": str(deploy / "churn/v1.0.0/model.pkl")},
                )
            )
    for name, cmd, path, health, env in servers:
        p = port()
        proc = subprocess.Popen(
            [c.replace("{port}", str(p)) for c in cmd],
            cwd=folder,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait(f"http://127.0.0.1:{p}{health}", proc)
            for n, body in bodies.items():
                results[f"{name} {n}-row"] = hey(f"http://127.0.0.1:{p}{path}", body, args.seconds)
        finally:
            proc.terminate()
            proc.wait(10)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
