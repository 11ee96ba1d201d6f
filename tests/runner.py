"""Run one job of a shipped workflow the way a GitHub-hosted runner runs it.

Every job starts from nothing: a new workspace holding a fresh clone of `origin` (full
history for `fetch-depth: 0`, else a `--depth N` clone of the one ref, as
actions/checkout does), DVC's cache empty (a fresh clone has no `.dvc/cache`, and DVC's
site cache is a new folder per job), a new RUNNER_TEMP, and no file or variable left by
an earlier job. Then only the `run:` steps of the job run, in order, under bash with the
workflow's, job's and step's `env:`, with `${{ ... }}` evaluated from the context the
test passes (github, inputs, vars, secrets, matrix, needs) and from earlier steps'
outputs. `actions/checkout` and `actions/setup-python` are the only actions allowed.

Only GitHub itself is played: `gh` is a stand-in that records its calls
(tests/fixtures/fresh_runner/gh); git, DVC and modelreg are real.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

BIN = Path(sys.executable).parent
STANDINS = Path(__file__).parent / "fixtures" / "fresh_runner"
EXPR_RE = re.compile(r"\$\{\{(.*?)\}\}", re.S)
TOKEN_RE = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<op>==|!=|&&|\|\||!|\(|\)|,)"
    r"|(?P<name>[A-Za-z_][\w-]*(?:\.[\w-]+|\[\d+\]|\.\*)*))"
)


def load_workflow(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    if True in data:  # PyYAML reads `on` as a boolean
        data["on"] = data.pop(True)
    return data


# -- expressions --------------------------------------------------------------------------


def evaluate(expr: str, ctx: Mapping[str, Any]) -> Any:
    """A `${{ }}` expression: paths, literals, ==, !=, !, &&, ||, and a few functions."""
    tokens = _tokens(expr)
    py: list[str] = []
    for kind, text in tokens:
        if kind == "str":
            py.append(repr(text[1:-1].replace("''", "'")))
        elif kind == "num":
            py.append(text)
        elif kind == "op":
            py.append({"&&": " and ", "||": " or ", "!": " not "}.get(text, text))
        elif text in ("true", "false", "null"):
            py.append({"true": "True", "false": "False", "null": "None"}[text])
        elif text in _FUNCTIONS:
            py.append(f"_f[{text!r}]")
        else:
            py.append(f"_get({text!r})")
    code = "".join(py)
    return eval(code, {"_get": lambda p: _lookup(ctx, p), "_f": _FUNCTIONS, "__builtins__": {}})


def _tokens(expr: str) -> list[tuple[str, str]]:
    out, pos, text = [], 0, expr.strip()
    while pos < len(text):
        found = TOKEN_RE.match(text, pos)
        if not found or found.end() == pos:
            raise ValueError(f"cannot read expression {expr!r} at {text[pos:]!r}")
        kind = found.lastgroup or ""
        out.append((kind, found.group(kind)))
        pos = found.end()
    return out


def _lookup(ctx: Mapping[str, Any], path: str) -> Any:
    node: Any = ctx
    for part in path.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return "" if node is None and path.split(".")[0] in ("vars", "secrets", "inputs") else node


_FUNCTIONS: dict[str, Any] = {
    "fromJSON": json.loads,
    "toJSON": json.dumps,
    "always": lambda: True,
    "success": lambda: True,
    "startsWith": lambda a, b: str(a).lower().startswith(str(b).lower()),
}


def substitute(text: str, ctx: Mapping[str, Any]) -> str:
    """A string with every `${{ }}` replaced by its value, as GitHub renders it."""

    def one(found: re.Match[str]) -> str:
        value = evaluate(found.group(1), ctx)
        if value is None:
            return ""
        if isinstance(value, bool):
            return str(value).lower()
        return json.dumps(value) if isinstance(value, (dict, list)) else str(value)

    return EXPR_RE.sub(one, str(text))


def condition(text: Any, ctx: Mapping[str, Any]) -> bool:
    if isinstance(text, bool):
        return text
    inner = EXPR_RE.fullmatch(str(text).strip())
    return bool(evaluate(inner.group(1) if inner else str(text), ctx))


# -- the job ------------------------------------------------------------------------------


@dataclass
class JobRun:
    """What a job did: its outcome, outputs, each step's outcome, and the whole log."""

    ok: bool
    outputs: dict[str, str]
    steps: dict[str, dict[str, Any]]
    log: str
    workspace: Path
    skipped: bool = False
    ran: list[str] = field(default_factory=list)


def run_job(
    workflow: Path,
    job: str,
    *,
    origin: Path,
    base: Path,
    context: Mapping[str, Any],
    fetch_depth: int | None = None,
) -> JobRun:
    """Run `job` of `workflow` in a new folder under `base`; `fetch_depth` overrides the file's."""
    flow = load_workflow(workflow)
    spec = flow["jobs"][job]
    base.mkdir(parents=True, exist_ok=True)
    folder = base / f"{len(list(base.iterdir())):02d}-{workflow.stem}-{job}"
    workspace, temp = folder / "workspace", folder / "tmp"
    temp.mkdir(parents=True)
    ctx: dict[str, Any] = {"steps": {}, "env": {}, **context}
    ctx.setdefault("github", {})
    if "if" in spec and not condition(spec["if"], ctx):
        return JobRun(True, {}, {}, f"job {job} skipped", workspace, skipped=True)
    env = _runner_env(ctx, workspace, temp, folder)
    for layer in (flow.get("env") or {}, spec.get("env") or {}):
        ctx["env"] = {**ctx["env"], **{k: substitute(v, ctx) for k, v in layer.items()}}
    log: list[str] = []
    failed = False
    run = JobRun(True, {}, ctx["steps"], "", workspace)
    for index, step in enumerate(spec["steps"]):
        name = step.get("name") or step.get("uses") or f"step {index}"
        if not condition(step.get("if", "success()"), ctx) or (
            failed and "always()" not in str(step.get("if", ""))
        ):
            log.append(f"-- skipped: {name}")
            _record(ctx, step, "skipped", {})
            continue
        run.ran.append(str(name))
        code, outputs, text = _step(step, ctx, env, workspace, origin, temp, fetch_depth)
        log.append(f"-- {name} (exit {code})\n{text}")
        _record(ctx, step, "success" if code == 0 else "failure", outputs)
        failed = failed or code != 0
    run.ok = not failed
    run.log = "\n".join(log)
    run.outputs = {k: substitute(v, ctx) for k, v in (spec.get("outputs") or {}).items()}
    return run


def _record(
    ctx: dict[str, Any], step: Mapping[str, Any], outcome: str, outputs: dict[str, str]
) -> None:
    if "id" in step:
        ctx["steps"][step["id"]] = {"outcome": outcome, "conclusion": outcome, "outputs": outputs}


def _runner_env(
    ctx: Mapping[str, Any], workspace: Path, temp: Path, folder: Path
) -> dict[str, str]:
    """The variables a hosted runner sets; nothing from an earlier job or the test's shell."""
    github = ctx["github"]
    keep = ("GIT_CONFIG_NOSYSTEM", "LANG", "PYTHONPATH", "TMPDIR")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    home = folder / "home"  # a new machine: no git identity, no config, no caches
    home.mkdir()
    (home / ".gitconfig").write_text("")
    env.update(
        HOME=str(home),
        GIT_CONFIG_GLOBAL=str(home / ".gitconfig"),
        PATH=os.pathsep.join([str(STANDINS), str(BIN), "/usr/local/bin", "/usr/bin", "/bin"]),
        CI="true",
        GITHUB_WORKSPACE=str(workspace),
        RUNNER_TEMP=str(temp),
        GITHUB_EVENT_NAME=str(github.get("event_name", "")),
        GITHUB_SHA=str(github.get("sha", "")),
        GITHUB_REF_NAME=str(github.get("ref_name", "")),
        GITHUB_REPOSITORY=str(github.get("repository", "octo-org/models")),
        GITHUB_SERVER_URL="https://github.com",
        GITHUB_API_URL=str(github.get("api_url", "https://api.github.com")),
        GITHUB_RUN_ID="1",
        GH_STANDIN_LOG=str(folder / "gh-calls.jsonl"),
        # DVC's per-repository state lives outside the workspace: a new, empty one per job.
        DVC_SITE_CACHE_DIR=str(folder / "dvc-site-cache"),
        XDG_CACHE_HOME=str(folder / "cache"),
    )
    return env


def _step(
    step: Mapping[str, Any],
    ctx: dict[str, Any],
    runner_env: dict[str, str],
    workspace: Path,
    origin: Path,
    temp: Path,
    fetch_depth: int | None,
) -> tuple[int, dict[str, str], str]:
    uses = str(step.get("uses", ""))
    if uses.startswith("actions/checkout@"):
        with_ = {k: substitute(v, ctx) for k, v in (step.get("with") or {}).items()}
        depth = fetch_depth if fetch_depth is not None else int(with_.get("fetch-depth", 1))
        pr_head = ctx["github"].get("checkout_ref")
        ref = with_.get("ref") or pr_head or ctx["github"].get("ref_name") or "main"
        checkout(origin, workspace, depth=depth, ref=str(ref), detach=bool(pr_head))
        return 0, {}, f"checked out {ref} (fetch-depth {depth})"
    if uses.startswith("actions/setup-python@"):
        return 0, {}, f"python is {sys.executable}"
    if uses:
        raise AssertionError(f"no stand-in for {uses}")
    step_env = {k: substitute(v, ctx) for k, v in (step.get("env") or {}).items()}
    script = temp / "step.sh"
    script.write_text(substitute(step["run"], ctx))
    files = {n: temp / f"{n.lower()}" for n in ("GITHUB_OUTPUT", "GITHUB_ENV")}
    for path in files.values():
        path.write_text("")
    env = {
        **runner_env,
        **ctx["env"],
        **step_env,
        **{k: str(v) for k, v in files.items()},
        "GITHUB_STEP_SUMMARY": str(temp / "summary.md"),
    }
    proc = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    ctx["env"] = {**ctx["env"], **_key_values(files["GITHUB_ENV"].read_text())}
    return (
        proc.returncode,
        _key_values(files["GITHUB_OUTPUT"].read_text()),
        proc.stdout + proc.stderr,
    )


def _key_values(text: str) -> dict[str, str]:
    """`key=value` lines and `key<<EOF` blocks, as $GITHUB_OUTPUT and $GITHUB_ENV hold them."""
    out: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, marker = line.split("<<", 1)
            body = []
            for more in lines:
                if more == marker:
                    break
                body.append(more)
            out[key] = "\n".join(body)
        elif "=" in line:
            key, value = line.split("=", 1)
            out[key] = value
    return out


def checkout(origin: Path, workspace: Path, *, depth: int, ref: str, detach: bool = False) -> None:
    """What actions/checkout leaves: `fetch-depth: 0` every branch, else `--depth N` of `ref`.

    Like the action, the clone has no refs/remotes/origin/HEAD and checks `ref` out
    detached unless it is a branch.
    """
    url = origin.resolve().as_uri()  # file://, so that --depth is honoured
    if depth == 0:
        _git(workspace.parent, "clone", "--quiet", "--no-checkout", url, str(workspace))
    else:
        _git(
            workspace.parent, "clone", "--quiet", "--no-checkout", f"--depth={depth}",
            "--branch", ref, url, str(workspace),
        )  # fmt: skip
    _git(workspace, "remote", "set-head", "origin", "--delete")
    local = _git_ok(workspace, "rev-parse", "--verify", "--quiet", f"refs/remotes/origin/{ref}")
    if local and not detach:
        _git(workspace, "checkout", "--quiet", "-B", ref, f"refs/remotes/origin/{ref}")
    else:
        target = f"refs/remotes/origin/{ref}" if local else ref
        _git(workspace, "checkout", "--quiet", "--detach", target)
    assert not (workspace / ".dvc" / "cache").exists(), "a fresh clone has an empty DVC cache"


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def _git_ok(cwd: Path, *args: str) -> bool:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True).returncode == 0


# -- events -------------------------------------------------------------------------------


def push_context(origin: Path, *, before: str, branch: str = "main") -> dict[str, Any]:
    """A push of `branch` from `before` to origin's current tip."""
    sha = _git(origin, "rev-parse", f"refs/heads/{branch}").strip()
    return {
        "github": {
            "event_name": "push",
            "sha": sha,
            "ref_name": branch,
            "event": {"before": before, "repository": {"default_branch": "main"}},
        }
    }


def dispatch_context(inputs: Mapping[str, str]) -> dict[str, Any]:
    return {
        "github": {
            "event_name": "workflow_dispatch",
            "ref_name": "main",
            "event": {"inputs": dict(inputs), "repository": {"default_branch": "main"}},
        },
        "inputs": dict(inputs),
    }


def schedule_context() -> dict[str, Any]:
    return {
        "github": {
            "event_name": "schedule",
            "ref_name": "main",
            "event": {"repository": {"default_branch": "main"}},
        },
        "inputs": {},
    }


def pull_request_context(number: int, head: str, *, repository: str) -> dict[str, Any]:
    """A pull request from `head` into main; checkout lands on the head's tip."""
    repo = {"full_name": repository, "default_branch": "main"}
    return {
        "github": {
            "event_name": "pull_request",
            "ref_name": f"{number}/merge",
            "checkout_ref": head,
            "base_ref": "main",
            "repository": repository,
            "event": {
                "pull_request": {"number": number, "head": {"ref": head, "repo": repo}},
                "repository": repo,
            },
        }
    }
