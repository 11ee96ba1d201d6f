"""`modelreg import gto`: a repository built with gto 1.10's own commands, imported, then
`modelreg status` answering what `gto show` answers on every model.

The gto repository is built once per run (tests/gto_builder.py runs the real `gto`
commands in one process); each test gets a copy. Tags that only plain git can make as
a test needs them (two in one second, a missing artifact, colliding names) are written
with `git tag -a` in gto's format, exactly as gto/tag.py writes them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock
from hypothesis import given
from hypothesis import strategies as st

from conftest import Registry, _registry_at, make_registry
from modelreg.registry.names import is_name
from modelreg.registry.records import version_key
from modelreg.training.import_gto import TAG_RE, map_name

GTO = Path(sys.executable).parent / "gto"
T0 = 1767261600  # 2026-01-01 10:00:00 UTC
CLF_BYTES = b"a DVC-tracked classifier"
CLF_MD5 = hashlib.md5(CLF_BYTES).hexdigest()


def _plan(root: Path) -> dict[str, Any]:
    """Every gto event kind, several seconds apart so that `gto show` is unambiguous."""
    at = iter(range(T0, T0 + 10_000, 10))
    index = (
        "Churn_Model:\n  type: model\n  path: models/churn.pkl\n"
        "legacy:\n  type: model\n  path: models/legacy.pkl\n"
    )
    clf_dvc = f"outs:\n- md5: {CLF_MD5}\n  size: {len(CLF_BYTES)}\n  hash: md5\n  path: clf.pkl\n"

    def step(gto: list[str], files: dict[str, str] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"at": next(at), "gto": gto}
        if files:
            out["files"] = files
            out["commit"] = "train " + " ".join(gto[1:3])
        return out

    churn, clf = "Churn_Model", "nlp/sentiment:Clf"
    return {
        "repo": str(root),
        "steps": [
            step(
                ["register", churn, "--version", "v1.0.0"],
                {"artifacts.yaml": index, "models/churn.pkl": "churn 1"},
            ),
            step(["assign", churn, "--version", "v1.0.0", "--stage", "Prod"]),
            step(["register", churn, "--version", "v1.1.0"], {"models/churn.pkl": "churn 2"}),
            step(["assign", churn, "--version", "v1.1.0", "--stage", "Prod"]),
            step(["assign", churn, "--version", "v1.1.0", "--stage", "staging"]),
            step(["deprecate", churn, "v1.1.0", "Prod"]),  # unassign: Prod falls back
            step(["register", churn, "--version", "v1.2.0"], {"models/churn.pkl": "churn 3"}),
            step(["assign", churn, "--version", "v1.2.0", "--stage", "staging"]),
            step(
                ["register", clf, "--version", "v1.0.0"],
                {
                    "nlp/sentiment/dvc.yaml": "artifacts:\n  Clf:\n    path: clf.pkl\n",
                    "nlp/sentiment/clf.pkl.dvc": clf_dvc,
                },
            ),
            step(["assign", clf, "--version", "v1.0.0", "--stage", "Prod"]),
            step(
                ["register", clf, "--version", "v2.0.0"],
                {"nlp/sentiment/clf.pkl.dvc": clf_dvc.replace("size: ", "size: 1")},
            ),
            step(["assign", clf, "--version", "v2.0.0", "--stage", "staging"]),
            step(["deprecate", clf, "v2.0.0"]),  # deregister: staging empties
            step(["register", "legacy", "--version", "v0.1.0"], {"models/legacy.pkl": "old"}),
            step(["assign", "legacy", "--version", "v0.1.0", "--stage", "Prod"]),
            step(["deprecate", "legacy"]),  # the artifact: gto show hides it
        ],
    }


def _build(reg: Registry) -> None:
    plan = reg.work / "plan.json"
    plan.write_text(json.dumps(_plan(reg.root)))
    builder = Path(__file__).parent / "gto_builder.py"
    subprocess.run([sys.executable, str(builder), str(plan)], check=True, env=os.environ)


@pytest.fixture
def gto_repo(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Registry:
    """A copy of the one gto repository of this run, built by whichever xdist worker asks
    first (gto's commands cost ~15 s on a loaded machine: build them once, not per worker).
    The copy's origin and DVC remote still name the master; these tests use neither."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the run's folder, common to its workers
    master = shared / "gto-import-master"
    with FileLock(f"{master}.lock"):
        if not (master / "built").exists():
            shutil.rmtree(master, ignore_errors=True)
            master.mkdir()
            _build(make_registry(master))
            (master / "built").write_text("")
    shutil.copytree(master, tmp_path / "gto", symlinks=True)
    return _registry_at(tmp_path / "gto")


def _gto_show(root: Path) -> dict[str, Any]:
    out = subprocess.run(
        [str(GTO), "show", "--json"], cwd=root, check=True, capture_output=True, text=True
    ).stdout
    data: dict[str, Any] = json.loads(out)
    return data


def _import(reg: Registry, *args: str) -> dict[str, Any]:
    result = reg.run("import", "gto", "--json", *args)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.output)
    return data


def _ours(reg: Registry) -> dict[str, dict[str, Any]]:
    """model → {"stages": stage → version, "latest": newest live version, "retired": set}."""
    rows = json.loads(reg.ok("status", "--all", "--json").output)["rows"]
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        m = out.setdefault(row["model"], {"stages": {}, "live": [], "retired": set()})
        if row["stage"]:
            m["stages"][row["stage"]] = row["version"]
        (m["retired"].add if row["deprecated"] else m["live"].append)(row["version"])
    for m in out.values():
        m["latest"] = max(m.pop("live"), key=version_key, default=None)
    return out


def test_status_answers_what_gto_show_answers_on_every_model(gto_repo: Registry) -> None:
    # gto's answer before the import: afterwards gto counts the import's commits (newer
    # than `legacy@deprecated`, artifacts.yaml still naming legacy) as reviving legacy
    theirs = _gto_show(gto_repo.root)
    report = _import(gto_repo)
    ours = _ours(gto_repo)
    models, stages = report["models"], report["stages"]
    assert set(models) == {"Churn_Model", "nlp/sentiment:Clf", "legacy"}
    for name, shown in theirs.items():
        mine = ours[models[name]]
        want = {stages[s]: v for s, v in shown["stage"].items() if v}
        assert mine["stages"] == want, name
        assert mine["latest"] == shown["version"], name
    # gto show hides a deprecated artifact: here it serves nowhere, every version retired
    assert "legacy" not in theirs
    assert ours["legacy"]["stages"] == {} and ours["legacy"]["retired"] == {"v0.1.0"}
    assert theirs["Churn_Model"]["stage"]["Prod"] == "v1.0.0"  # the fallback, on both sides
    # the history is Git's: before the unassignment (T0 + 50) prod served v1.1.0
    before = gto_repo.ok("status", "churn_model", "--at", "2026-01-01T10:00:45Z", "--json")
    at = json.loads(before.stdout)
    assert {r["stage"]: r["version"] for r in at["rows"]} == {"prod": "v1.1.0", "staging": "v1.1.0"}
    assert gto_repo.ok("validate").exit_code == 0


def test_import_prints_the_name_mapping_and_writes_one_commit_per_tag_at_its_time(
    gto_repo: Registry,
) -> None:
    out = gto_repo.ok("import", "gto").output
    assert "model Churn_Model -> churn_model" in out
    assert "model nlp/sentiment:Clf -> nlp-sentiment-clf" in out
    assert "stage Prod -> prod" in out
    tags = gto_repo.git("tag").split()
    log = gto_repo.git("log", "--format=%at %(trailers:key=Imported-From-Gto,valueonly,separator=)")
    pairs = [line.split() for line in log.splitlines()]
    imported = {p[1]: int(p[0]) for p in pairs if len(p) == 3}
    assert set(imported) == set(tags) and len(tags) == 16
    fmt = "--format=%(refname:strip=2) %(taggerdate:unix)"
    times = gto_repo.git("for-each-ref", "refs/tags", fmt)
    assert imported == {t: int(s) for t, s in (line.split() for line in times.splitlines())}
    # the DVC pointer's md5 is carried over; its bytes are in no cache, so no sha256
    rec = (gto_repo.root / "models/nlp-sentiment-clf/versions/v1.0.0.yaml").read_text()
    assert f"md5: {CLF_MD5}" in rec and "sha256" not in rec
    churn = (gto_repo.root / "models/churn_model/versions/v1.0.0.yaml").read_text()
    assert f"sha256: {hashlib.sha256(b'churn 1').hexdigest()}" in churn
    assert gto_repo.git("status", "--porcelain") == ""


def test_a_rerun_imports_only_new_tags(gto_repo: Registry) -> None:
    first = _import(gto_repo)
    assert len(first["imported"]) == 16
    head = gto_repo.git("rev-parse", "HEAD")
    assert _import(gto_repo)["imported"] == [] and gto_repo.git("rev-parse", "HEAD") == head
    _tag(gto_repo.root, "Churn_Model#staging#6", "v1.0.0 commit", T0 + 5000)
    again = _import(gto_repo)
    assert [i["tag"] for i in again["imported"]] == ["Churn_Model#staging#6"]
    assert again["already"] == 16
    assert _ours(gto_repo)["churn_model"]["stages"]["staging"] == "v1.0.0"
    shown = _gto_show(gto_repo.root)["Churn_Model"]["stage"]
    assert shown["staging"] == "v1.0.0"


def test_dry_run_writes_nothing(gto_repo: Registry) -> None:
    head = gto_repo.git("rev-parse", "HEAD")
    report = _import(gto_repo, "--dry-run")
    assert len(report["imported"]) == 16 and all(i["commit"] is None for i in report["imported"])
    assert gto_repo.git("rev-parse", "HEAD") == head and gto_repo.git("status", "--porcelain") == ""


# -- plain-git repositories in gto's tag format --------------------------------------------


def _tag(root: Path, name: str, target: str, when: int) -> None:
    """An annotated tag as gto writes one; `target` "v1.0.0 commit" finds a registration."""
    if target.endswith(" commit"):
        target = subprocess.run(
            ["git", "rev-list", "-n1", f"Churn_Model@{target.split()[0]}"],
            cwd=root,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    env = {**os.environ, "GIT_COMMITTER_DATE": f"@{when} +0000"}
    subprocess.run(
        ["git", "tag", "-a", name, target, "-m", f"gto-style tag {name}"],
        cwd=root,
        check=True,
        env=env,
    )


def _commit(reg: Registry, files: dict[str, str]) -> str:
    for rel, text in files.items():
        reg.write(rel, text)
    reg.git("add", "-A")
    reg.git("commit", "-q", "-m", "train")
    return reg.git("rev-parse", "HEAD").strip()


@pytest.fixture
def plain(registry: Registry) -> Registry:
    """A registry with no gto tags yet (conftest's `registry`, named for these tests)."""
    return registry


def test_tags_in_one_second_follow_gtos_counter_and_the_tie_is_reported(plain: Registry) -> None:
    index = "m:\n  path: m.pkl\n"
    one = _commit(plain, {"artifacts.yaml": index, "m.pkl": "1"})
    two = _commit(plain, {"m.pkl": "2"})
    _tag(plain.root, "m@v1.0.0", one, T0)
    _tag(plain.root, "m@v2.0.0", two, T0)
    # gto numbered them in this order: v2 entered prod last, so prod serves v2
    _tag(plain.root, "m#prod#2", two, T0 + 1)
    _tag(plain.root, "m#prod#1", one, T0 + 1)
    report = _import(plain)
    ties = {tuple(t["tags"]) for t in report["ties"]}
    assert ties == {("m@v1.0.0", "m@v2.0.0"), ("m#prod#1", "m#prod#2")}
    assert "#N counter" in report["order"]
    assert _ours(plain)["m"]["stages"] == {"prod": "v2.0.0"}
    text = plain.run("import", "gto", "--dry-run").output
    assert "share a second; order chosen" in text


def test_a_created_tag_creates_the_model_in_its_own_commit(plain: Registry) -> None:
    # gto 1.10 parses `@created` but its `gto show` fails on a repository holding one
    # (KeyError 'action'); older gto wrote them, so the import reads them
    one = _commit(plain, {"artifacts.yaml": "m:\n  path: m.pkl\n", "m.pkl": "1"})
    _tag(plain.root, "m@created", one, T0)
    _tag(plain.root, "m@v1.0.0", one, T0 + 10)
    report = _import(plain)
    assert [i["summary"] for i in report["imported"]] == ["create m", "register m v1.0.0"]
    created = report["imported"][0]["commit"]
    files = plain.git("show", "--name-only", "--format=", created).split()
    assert files == ["models/m/model.yaml"]
    assert _ours(plain)["m"]["latest"] == "v1.0.0"


def test_a_missing_artifact_is_reported_and_the_rest_imported(plain: Registry) -> None:
    one = _commit(plain, {"artifacts.yaml": "m:\n  path: gone.pkl\nok:\n  path: ok.pkl\n"})
    _commit(plain, {"ok.pkl": "fine"})
    _tag(plain.root, "m@v1.0.0", one, T0)
    _tag(plain.root, "m#prod#1", one, T0 + 10)
    _tag(plain.root, "ok@v1.0.0", "HEAD", T0 + 20)
    result = plain.run("import", "gto")
    assert result.exit_code == 1
    assert "m@v1.0.0: gone.pkl does not exist at commit" in result.output
    assert "m#prod#1: commit" in result.output  # its assignment cannot land either
    assert _ours(plain)["ok"]["latest"] == "v1.0.0" and "m" not in _ours(plain)


def test_names_that_collide_after_mapping_are_refused(plain: Registry) -> None:
    _commit(plain, {"artifacts.yaml": "Churn:\n  path: a\nchurn:\n  path: a\n", "a": "x"})
    _tag(plain.root, "Churn@v1.0.0", "HEAD", T0)
    _tag(plain.root, "churn@v1.0.0", "HEAD", T0 + 10)
    head = plain.git("rev-parse", "HEAD")
    result = plain.run("import", "gto")
    assert result.exit_code == 2
    assert "'Churn' and 'churn' both map to 'churn'" in result.output
    assert plain.git("rev-parse", "HEAD") == head


@pytest.mark.parametrize(
    ("name", "mapped"),
    [
        ("churn", "churn"),
        ("Churn_Model", "churn_model"),
        ("nlp/sentiment:Clf", "nlp-sentiment-clf"),
        ("a/b/c", "a-b-c"),
        ("X" * 60, "x" * 31 + "-" + hashlib.sha256(b"X" * 60).hexdigest()[:8]),
    ],
)
def test_gto_names_map_to_the_name_rule(name: str, mapped: str) -> None:
    assert map_name(name) == mapped


@pytest.mark.parametrize(
    ("tag", "kind"),
    [
        ("m@v1.0.0", "version"),
        ("m@v1.0.0!", "cancel"),
        ("m#prod#3", "stage"),
        ("m#prod!#4", "cancel"),
        ("m@deprecated", "deprecated"),
        ("m@created", "created"),
        ("dir/x=m@v1.0.0", "version"),
    ],
)
def test_every_gto_tag_kind_parses(tag: str, kind: str) -> None:
    m = TAG_RE.match(tag)
    assert m is not None and m[kind]


_GTO_NAME = st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9/_-]{0,60}[a-zA-Z0-9])?", fullmatch=True)


@given(folder=st.none() | st.from_regex(r"[a-zA-Z0-9_./-]{1,20}", fullmatch=True), name=_GTO_NAME)
def test_every_gto_name_maps_to_a_valid_name_and_every_tag_parses_back(
    folder: str | None, name: str
) -> None:
    full = f"{folder}:{name}" if folder else name
    assert is_name(map_name(full)) and map_name(full) == map_name(full)
    if is_name(full):
        assert map_name(full) == full  # a name modelreg accepts is kept as it is
    in_tag = full.replace(":", "=")
    for tag, kind in ((f"{in_tag}@v1.2.0", "version"), (f"{in_tag}#Prod!#12", "stage")):
        m = TAG_RE.match(tag)
        assert m is not None and m[kind] and m["artifact"] == in_tag


def test_local_changes_in_the_way_leave_nothing_imported(plain: Registry) -> None:
    one = _commit(plain, {"artifacts.yaml": "m:\n  path: m.pkl\n", "m.pkl": "1"})
    _tag(plain.root, "m@v1.0.0", one, T0)
    plain.write("models/m/model.yaml", "name: m\n")  # untracked, where the import writes
    head = plain.git("rev-parse", "HEAD")
    result = plain.run("import", "gto")
    assert result.exit_code == 2 and "nothing was imported" in result.output
    assert plain.git("rev-parse", "HEAD") == head
    assert plain.git("for-each-ref", "refs/modelreg") == ""


def test_a_version_modelreg_registered_already_is_never_overwritten(plain: Registry) -> None:
    record = "model: m\nversion: v1.0.0\n"  # only its existence matters here
    one = _commit(
        plain,
        {
            "artifacts.yaml": "m:\n  path: m.pkl\n",
            "m.pkl": "1",
            "models/m/versions/v1.0.0.yaml": record,
        },
    )
    _tag(plain.root, "m@v1.0.0", one, T0)
    result = plain.run("import", "gto")
    assert result.exit_code == 1 and "exists already (records are immutable)" in result.output
    assert (plain.root / "models/m/versions/v1.0.0.yaml").read_text() == record
