"""Benchmark `modelreg serve` against a plain FastAPI app, MLServer and the in-process floor.

    python benchmarks/serve.py [--seconds 5] [--rounds 3] [--only http,plain,modelreg,mlserver]
                               [--pin] [--nice N]

Loopback only, bounded (each run lasts --seconds). Load generator: Debian's `hey`.
For each workers (1, 2) all servers run at once and are measured in turns, --rounds
times, medians reported (so a change in the machine's load hits all of them alike); for
each request size (1 and 100 rows):
  - closed loop, `hey -c 8 -z Ns`: saturation throughput, and the CPU the server's
    processes used per request meanwhile (HTTP included; read from /proc);
  - constant rate, `hey -c 4 -q R/4 -z Ns` with R = 70 % of the plain app's saturation
    throughput at the same workers and size: latency (p50, p99), compared with the
    in-process floor (the model's own `predict` on the same rows, p99 of 3,000 calls).
`modelreg serve` runs with its metrics, prediction log and a 20 % canary split on.
The HTTP floor ("http") is a raw ASGI function answering a constant JSON body on the same
uvicorn (same environment, same event loop and HTTP parser) as `modelreg serve`: what any
Python server pays on this machine for HTTP and for sharing the cores with the load
generator, before it does anything.
--pin: the load generator on CPU 0, every server (its processes inherit it) and the
in-process floor on CPU 1.
--nice N: the benchmark, so every server, the load generator and the floor, at niceness
N (negative: ahead of the machine's other work; root only), so that other jobs on a
shared machine disturb the measurement less.
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

HTTP_APP = """
BODY = b'{"predictions":[0]}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(BODY))]
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
"""

# The least a correct server does: the body parsed, the model called, the answer sent.
# No validation against the signature, no split, no metrics, no log.
BARE_APP = """
import json, os, pickle
import numpy as np
model = pickle.load(open(os.environ["MODEL_PATH"], "rb"))
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    chunks, more = [], True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    if scope["method"] == "POST":
        rows = json.loads(b"".join(chunks))["instances"]
        body = json.dumps({"predictions": model.predict(np.asarray(rows)).tolist()}).encode()
    else:
        body = b"{}"  # the benchmark's readiness check
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
"""

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
    (folder / "http_app.py").write_text(HTTP_APP)
    (folder / "bare_app.py").write_text(BARE_APP)
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


HEY_PREFIX: list[str] = []  # --pin: `taskset -c 0`


def hey(url: str, body: str, seconds: int, *, rate: float | None = None) -> dict[str, float]:
    body_file = WORK / "body.json"
    body_file.write_text(body)
    conc = 8 if rate is None else 4
    cmd = ["hey", "-z", f"{seconds}s", "-c", str(conc), "-m", "POST", "-T", "application/json"]
    cmd += ["-D", str(body_file)]
    if rate is not None:
        cmd += ["-q", f"{rate / conc:.2f}"]
    done = subprocess.run([*HEY_PREFIX, *cmd, url], capture_output=True, text=True, check=True)
    out = done.stdout
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


def group_cpu(pgid: int) -> float:
    """CPU seconds used so far by the live processes of a process group (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid:
                total += int(fields[11]) + int(fields[12])
    return total / tick


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


# CPU per request in-process: each app called as ASGI by a loop in one process, no HTTP,
# so what it costs is measured apart from the machine's load and the load generator.
# The timing loop both scripts share: `call()` sends the request body once; `check` looks
# at what the app sent, outside the timed part.
ASGI_LOOP = """
async def receive(): return {"type": "http.request", "body": body, "more_body": False}
sent = []
async def send(m): sent.append(m)
lat = []
async def many(k):
    for _ in range(k):
        t = time.perf_counter()
        await call()
        lat.append(time.perf_counter() - t)
        check(sent)
        sent.clear()
"""

CPU_MODELREG = (
    """
import asyncio, json, os, sys, time
from pathlib import Path
from modelreg.serving.server import Server, build_app, resolve
folder, n, k = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
server = Server(resolve(folder, deploy_dir=folder / "deploy", log_dir=folder / "cpu-logs"))
app = build_app(server)
ROW = json.loads(sys.argv[-1])
body = json.dumps({"instances": [ROW] * n}).encode()
scope = {"type": "http", "method": "POST", "path": "/v1/models/churn:predict", "headers": []}
def call(): return app(scope, receive, send)
def check(sent): pass
"""
    + ASGI_LOOP
    + """
loop = asyncio.new_event_loop()
server.start(loop)
loop.run_until_complete(many(200))
def writer_cpu():
    server.log.drain(60)
    f = open(f"/proc/{server.log.pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
w, c = writer_cpu(), time.process_time()
del lat[:]
loop.run_until_complete(many(k))
worker = (time.process_time() - c) / k
lat.sort()
print(json.dumps({"worker_us": worker * 1e6, "writer_us": (writer_cpu() - w) / k * 1e6,
                  "p50_ms": lat[k // 2] * 1e3, "p99_ms": lat[int(k * 0.99)] * 1e3}))
server.close()
"""
)

CPU_PLAIN = (
    """
import asyncio, json, sys, time
sys.path.insert(0, sys.argv[1])
import plain_app
n, k = int(sys.argv[2]), int(sys.argv[3])
ROW = json.loads(sys.argv[-1])
body = json.dumps({"instances": [ROW] * n}).encode()
scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
         "scheme": "http", "path": "/predict", "raw_path": b"/predict", "query_string": b"",
         "root_path": "", "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 2),
         "headers": [(b"content-type", b"application/json")]}
def call(): return plain_app.app(dict(scope), receive, send)  # Starlette writes into scope
def check(sent): assert b"predictions" in sent[-1]["body"]
"""
    + ASGI_LOOP
    + """
loop = asyncio.new_event_loop()
loop.run_until_complete(many(200))
del lat[:]
c = time.process_time()
loop.run_until_complete(many(k))
lat.sort()
print(json.dumps({"worker_us": (time.process_time() - c) / k * 1e6, "writer_us": 0.0,
                  "p50_ms": lat[k // 2] * 1e3, "p99_ms": lat[int(k * 0.99)] * 1e3}))
"""
)


def _uvicorn_args(app: str, workers: int) -> list[str]:
    """uvicorn's arguments for one of the comparison apps ({port} is filled in later)."""
    return [f"{app}:app", "--workers", str(workers), "--port", "{port}", "--no-access-log",
            "--log-level", "warning"]  # fmt: skip


def cpu_per_request(
    folder: Path, kinds: list[str], k: int = 2000
) -> tuple[dict[str, dict[int, float]], dict[str, dict[int, dict[str, float]]]]:
    """CPU µs per request in-process (the log writer's included), and the p50 and p99 of
    one request's wall time in-process (the app called as an ASGI function, no HTTP):
    medians of 3 runs."""
    out: dict[str, dict[int, float]] = {}
    lat: dict[str, dict[int, dict[str, float]]] = {}
    for kind in kinds:
        if kind in ("mlserver", "http", "bare"):
            continue  # MLServer's inference runs behind its own HTTP and queue layers
        out[kind], lat[kind] = {}, {}
        for n in (1, 100):
            runs = []
            for _ in range(3):
                if kind == "modelreg":
                    cmd = [sys.executable, "-c", CPU_MODELREG]
                    env = {**os.environ, "PYTHONPATH": str(HERE.parent / "src")}
                else:
                    cmd = [str(VENV / "python"), "-c", CPU_PLAIN]
                    pickled = folder / "deploy/churn/v1.0.0/model.pkl"
                    env = {**os.environ, "MODEL_PATH": str(pickled)}
                cmd += [str(folder), str(n), str(k), json.dumps(ROW)]
                done = subprocess.run(cmd, env=env, capture_output=True, text=True)
                if done.returncode:
                    raise SystemExit(f"{kind}: in-process CPU run failed:\n{done.stderr}")
                runs.append(json.loads(done.stdout))
            out[kind][n] = median([r["worker_us"] + r["writer_us"] for r in runs])
            lat[kind][n] = {q: median([r[q] for r in runs]) for q in ("p50_ms", "p99_ms")}
    return out, lat


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
    if kind == "http":
        return {
            "name": "HTTP floor (raw ASGI, constant body)",
            "cmd": [sys.executable, "-m", "uvicorn", *_uvicorn_args("http_app", workers)],
            "path": "/",
            "health": "/",
            "env": {},
            "body": lambda n: json.dumps({"instances": [ROW] * n}),
        }
    if kind == "bare":
        return {
            "name": "bare ASGI predict",
            "cmd": [sys.executable, "-m", "uvicorn", *_uvicorn_args("bare_app", workers)],
            "path": "/",
            "health": "/",
            "env": {"MODEL_PATH": str(deploy / "churn/v1.0.0/model.pkl")},
            "body": lambda n: json.dumps({"instances": [ROW] * n}),
        }
    if kind == "plain":
        return {
            "name": "plain FastAPI /predict",
            "cmd": [str(VENV / "uvicorn"), *_uvicorn_args("plain_app", workers)],
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


def start(kind: str, workers: int, folder: Path, deploy: Path) -> dict[str, object]:
    spec = servers(kind, workers, folder, deploy)
    p = port()
    cwd = folder
    if kind == "mlserver":
        cwd = folder / "mlserver"
        mlserver_settings(folder, p, spec["settings"])  # type: ignore[arg-type]
    cmd = [c.replace("{port}", str(p)) for c in spec["cmd"]]  # type: ignore[attr-defined]
    spec["proc"] = subprocess.Popen(
        cmd,
        cwd=cwd,
        env={**os.environ, **spec["env"]},  # type: ignore[dict-item]
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    spec["port"] = p
    return spec


def stop(spec: dict[str, object]) -> None:
    proc: subprocess.Popen[bytes] = spec["proc"]  # type: ignore[assignment]
    os.killpg(proc.pid, 15)  # the server and its workers, started in their session
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved runs per server")
    ap.add_argument("--only", default="http,bare,plain,modelreg,mlserver", help="servers to run")
    ap.add_argument("--pin", action="store_true", help="hey on CPU 0, the servers on CPU 1")
    ap.add_argument("--nice", type=int, default=0, help="niceness of hey and the servers")
    args = ap.parse_args()
    if args.nice:
        os.nice(args.nice)  # this process, so every server, `hey` and the floor alike
    if args.pin:
        # this process on CPU 1, so the floor and every server (they inherit it); `hey` on 0
        os.sched_setaffinity(0, {1})
        HEY_PREFIX.extend(["taskset", "-c", "0"])
    if shutil.which("hey") is None:
        raise SystemExit("install hey: apt-get install hey")
    order = ("http", "bare", "plain", "modelreg", "mlserver")
    kinds = [k for k in order if k in args.only.split(",")]
    if {"plain", "mlserver"} & set(kinds) and not VENV.is_dir():
        raise SystemExit(f"make the venv first: see {__file__}'s docstring")
    WORK.mkdir(exist_ok=True)
    folder = WORK / "serve"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    deploy = build(folder)
    load = os.getloadavg()
    base = floor(deploy)
    cpu, inproc = cpu_per_request(folder, kinds)
    print(json.dumps({"floor_p99_ms": base, "cpu_us_per_request": cpu, "in_process": inproc}))
    results: list[dict[str, object]] = []
    for workers in (1, 2):
        # All servers up at once, measured in turns: a change of the machine's load
        # during the run hits every server alike, and the medians compare them.
        specs = {kind: start(kind, workers, folder, deploy) for kind in kinds}
        try:
            for spec in specs.values():
                wait(f"http://127.0.0.1:{spec['port']}{spec['health']}", spec["proc"])  # type: ignore[arg-type]
            for n in (1, 100):
                urls = {k: f"http://127.0.0.1:{s['port']}{s['path']}" for k, s in specs.items()}
                bodies = {k: s["body"](n) for k, s in specs.items()}  # type: ignore[operator]
                for k in kinds:
                    hey(urls[k], bodies[k], 1)  # warm up
                closed: dict[str, list[dict[str, float]]] = {k: [] for k in kinds}
                for _ in range(args.rounds):
                    for k in kinds:
                        pgid = specs[k]["proc"].pid  # type: ignore[attr-defined]
                        before = group_cpu(pgid)
                        res = hey(urls[k], bodies[k], args.seconds)
                        # the server's CPU per request, HTTP included: what it costs,
                        # whatever share of the machine it got
                        served = res["rps"] * args.seconds
                        res["cpu_us"] = (group_cpu(pgid) - before) / served * 1e6
                        closed[k].append(res)
                sat = {k: median([r["rps"] for r in closed[k]]) for k in kinds}
                target = 0.7 * sat.get("plain", max(sat.values()))
                paced: dict[str, list[dict[str, float]]] = {k: [] for k in kinds}
                for _ in range(args.rounds):
                    for k in kinds:
                        paced[k].append(hey(urls[k], bodies[k], args.seconds, rate=target))
                http_p99 = median([r["p99_ms"] for r in paced["http"]]) if "http" in kinds else None
                for k in kinds:
                    p99 = median([r["p99_ms"] for r in paced[k]])
                    row = {
                        "server": specs[k]["name"],
                        "workers": workers,
                        "rows": n,
                        "saturation_rps": sat[k],
                        "saturation_runs": [round(r["rps"]) for r in closed[k]],
                        "closed_non200": sum(r["non200"] for r in closed[k]),
                        "cpu_us_per_request": median([r["cpu_us"] for r in closed[k]]),
                        "cpu_runs": [round(r["cpu_us"]) for r in closed[k]],
                        "rate_rps": round(target, 1),
                        "achieved_rps": median([r["rps"] for r in paced[k]]),
                        "p50_ms": median([r["p50_ms"] for r in paced[k]]),
                        "p99_ms": p99,
                        "p99_runs": [round(r["p99_ms"], 1) for r in paced[k]],
                        "rate_non200": sum(r["non200"] for r in paced[k]),
                        "floor_p99_ms": base[n],
                        "p99_overhead_ms": p99 - base[n],
                        "p99_over_http_ms": None if http_p99 is None else p99 - http_p99,
                        "load": os.getloadavg()[0],
                    }
                    results.append(row)
                    print(json.dumps(row), flush=True)
        finally:
            for spec in specs.values():
                stop(spec)
    out = {
        "load_before": load,
        "load_after": os.getloadavg(),
        "pin": args.pin,
        "nice": args.nice,
        "floor_p99_ms": base,
        "cpu_us_per_request": cpu,
        "in_process_latency_ms": inproc,
        "results": results,
    }
    (WORK / "serve-results.json").write_text(json.dumps(out, indent=1))
    print(table(results))


def table(results: list[dict[str, object]]) -> str:
    lines = [
        "| server | workers | rows/req | saturation req/s | rate req/s (70 % of plain) "
        "| p50 ms | p99 ms | floor p99 ms | p99 overhead ms | p99 over HTTP floor ms "
        "| non-200 | CPU µs/req |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['server']} | {r['workers']} | {r['rows']} | {r['saturation_rps']:.0f} "
            f"| {r['rate_rps']:.0f} (got {r['achieved_rps']:.0f}) | {r['p50_ms']:.2f} "
            f"| {r['p99_ms']:.2f} | {r['floor_p99_ms']:.3f} | {r['p99_overhead_ms']:.2f} "
            f"| {'' if r['p99_over_http_ms'] is None else format(r['p99_over_http_ms'], '.2f')} "
            f"| {int(r['closed_non200']) + int(r['rate_non200'])} "  # type: ignore[call-overload]
            f"| {r['cpu_us_per_request']:.0f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
