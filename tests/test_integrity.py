"""Issue 10, "Hostile and malformed input": SHA-256 pinning, DVC pointers, names, push errors."""

from __future__ import annotations

import hashlib
import pickle
import subprocess
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import Registry, git
from modelreg.adapters import artifacts
from modelreg.adapters.artifacts import Expected
from modelreg.errors import CheckFailed
from test_artifacts import MarkerPickle
from test_deploy import set_stages

ARTIFACT = "models/churn/artifacts/v1.0.0/model.pkl"
RECORD = "models/churn/versions/v1.0.0.yaml"


def record_of(reg: Registry, rel: str = RECORD) -> dict[str, object]:
    data: dict[str, object] = yaml.safe_load((reg.root / rel).read_text())
    return data


def commit_all(reg: Registry, message: str) -> None:
    reg.git("add", "-A", "models")
    reg.git("commit", "-qm", message)


def cache_object(root: Path, md5: str) -> Path:
    return root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]  # DVC 3's layout


# -- SHA-256 in every version record ----------------------------------------------------


def test_register_records_the_sha256_of_the_artifact(registry: Registry) -> None:
    """MD5 alone guards the pickles: register records a SHA-256 beside the md5."""
    registry.register("churn", 0)
    artifact = record_of(registry)["artifact"]
    assert isinstance(artifact, dict)
    data = (registry.root / ARTIFACT).read_bytes()
    assert artifact["sha256"] == hashlib.sha256(data).hexdigest()
    assert artifact["md5"] == hashlib.md5(data).hexdigest()
    assert list(artifact) == ["path", "sha256", "md5", "size", "format"]


def simulate_md5_collision(reg: Registry, evil: bytes) -> None:
    """Make every md5 in the registry vouch for `evil` while the record keeps the SHA-256 of
    what was registered: what a chosen-prefix md5 collision on the DVC remote amounts to.

    A real collision keeps the md5 and swaps the bytes; this keeps the bytes' md5 honest and
    rewrites the md5s instead, which every md5 check sees the same way.
    """
    md5, size = hashlib.md5(evil).hexdigest(), len(evil)
    for store in (reg.root / ".dvc" / "cache", reg.remote):
        obj = store / "files" / "md5" / md5[:2] / md5[2:]
        obj.parent.mkdir(parents=True, exist_ok=True)
        obj.write_bytes(evil)
    pointer = reg.root / (ARTIFACT + ".dvc")
    data = yaml.safe_load(pointer.read_text())
    data["outs"][0].update(md5=md5, size=size)
    pointer.write_text(yaml.safe_dump(data, sort_keys=False))
    record = record_of(reg)
    assert isinstance(record["artifact"], dict)
    record["artifact"].update(md5=md5, size=size)
    (reg.root / RECORD).write_text(yaml.safe_dump(record, sort_keys=False))
    (reg.root / ARTIFACT).unlink()
    commit_all(reg, "colliding bytes")


def test_deploy_refuses_bytes_whose_md5_matches_but_sha256_does_not(churn_pushed: Registry) -> None:
    """MD5 alone guards the pickles: bytes that pass every md5 check but not the record's
    SHA-256 are never deployed."""
    registry = churn_pushed
    good_sha = hashlib.sha256((registry.root / ARTIFACT).read_bytes()).hexdigest()
    evil = pickle.dumps(MarkerPickle(registry.work / "code-ran"))
    simulate_md5_collision(registry, evil)
    set_stages(registry, "churn", "production:\n  version: v1.0.0\n", push=False)
    result = registry.run("deploy", "--stage", "production")
    assert result.exit_code == 1, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(
        f"modelreg: error: {ARTIFACT}: sha256 is {hashlib.sha256(evil).hexdigest()} but the "
        f"record {RECORD} says {good_sha}"
    )
    assert not (registry.root / ".modelreg/deploy/production/manifest.json").exists()
    assert not (registry.work / "code-ran").exists()


def test_predict_refuses_a_deployed_file_whose_md5_matches_but_sha256_does_not(
    registry: Registry,
) -> None:
    """MD5 alone guards the pickles: predict checks the SHA-256 the deployment recorded."""
    registry.register("churn", 0)
    set_stages(registry, "churn", "production:\n  version: v1.0.0\n", push=False)
    registry.ok("deploy", "--stage", "production")
    folder = registry.root / ".modelreg/deploy/production"
    deployed = folder / "churn/v1.0.0/model.pkl"
    good_sha = hashlib.sha256(deployed.read_bytes()).hexdigest()
    marker = registry.work / "code-ran"
    evil = pickle.dumps(MarkerPickle(marker))
    deployed.write_bytes(evil)
    manifest = (folder / "manifest.json").read_text()
    assert good_sha in manifest
    md5 = record_of(registry)["artifact"]["md5"]  # type: ignore[index]
    (folder / "manifest.json").write_text(manifest.replace(md5, hashlib.md5(evil).hexdigest()))
    csv = registry.work / "in.csv"
    csv.write_text("a,b,c,d,e\n1,2,3,4,5\n")
    result = registry.run("predict", "churn", "--stage", "production", "--input", str(csv))
    assert result.exit_code == 1, result.output
    assert f"{deployed}: sha256 is {hashlib.sha256(evil).hexdigest()} but " in result.stderr
    assert not marker.exists()


def test_the_loader_refuses_a_folder_whose_sha256_differs(tmp_path: Path) -> None:
    """MD5 alone guards the pickles: a folder artifact is checked by its SHA-256 too."""
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "weights.bin").write_bytes(b"registered")
    md5 = _dvc_dir_md5(tmp_path / "m")
    sha = artifacts.folder_sha256(tmp_path / "m")
    ok = Expected(md5=md5, source="r.yaml", sha256=sha)
    assert artifacts.verify_path(tmp_path / "m", ok, hint="h") is None
    wrong = Expected(md5=md5, source="r.yaml", sha256=hashlib.sha256(b"x").hexdigest())
    with pytest.raises(CheckFailed, match=r"sha256 is .* but r\.yaml says"):
        artifacts.verify_path(tmp_path / "m", wrong, hint="h")


def _dvc_dir_md5(folder: Path) -> str:
    import json

    files = sorted((p.relative_to(folder).as_posix(), p) for p in folder.rglob("*") if p.is_file())
    listing = [{"md5": hashlib.md5(p.read_bytes()).hexdigest(), "relpath": r} for r, p in files]
    return hashlib.md5(json.dumps(listing, sort_keys=True).encode()).hexdigest() + ".dir"


_NAMES = st.text(alphabet="abcxyz019_-.é", min_size=1, max_size=6).filter(
    lambda s: s not in (".", "..")
)
_TREES = st.dictionaries(
    st.lists(_NAMES, min_size=1, max_size=3).map("/".join), st.binary(max_size=64), max_size=6
).filter(lambda tree: _no_prefix_clash(list(tree)))


def _no_prefix_clash(paths: list[str]) -> bool:
    """No path is also a folder of another (a file cannot be both)."""
    return not any(b.startswith(a + "/") for a in paths for b in paths)


def _write_tree(folder: Path, tree: dict[str, bytes], order: list[str]) -> None:
    folder.mkdir()
    for rel in order:
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(tree[rel])


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tree=_TREES, data=st.data())
def test_a_folder_digest_does_not_depend_on_the_order_files_were_made(
    tmp_path_factory: pytest.TempPathFactory, tree: dict[str, bytes], data: st.DataObject
) -> None:
    """MD5 alone guards the pickles: folder artifacts are hashed deterministically."""
    base = tmp_path_factory.mktemp("tree")
    order = data.draw(st.permutations(list(tree)))
    _write_tree(base / "a", tree, list(tree))
    _write_tree(base / "b", tree, list(order))
    assert artifacts.folder_sha256(base / "a") == artifacts.folder_sha256(base / "b")


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tree=_TREES.filter(bool), data=st.data())
def test_any_byte_change_in_a_folder_changes_its_digest(
    tmp_path_factory: pytest.TempPathFactory, tree: dict[str, bytes], data: st.DataObject
) -> None:
    """MD5 alone guards the pickles: no change to a folder's files keeps its digest."""
    base = tmp_path_factory.mktemp("tree")
    rel = data.draw(st.sampled_from(sorted(tree)))
    changed = data.draw(st.binary(max_size=64).filter(lambda b: b != tree[rel]))
    _write_tree(base / "a", tree, list(tree))
    _write_tree(base / "b", {**tree, rel: changed}, list(tree))
    assert artifacts.folder_sha256(base / "a") != artifacts.folder_sha256(base / "b")


def test_the_folder_digest_is_what_sha256sum_gives_as_documented(tmp_path: Path) -> None:
    """MD5 alone guards the pickles: docs/formats.md's shell line reproduces the digest."""
    folder = tmp_path / "m"
    _write_tree(
        folder,
        {"b.bin": b"2", "a/x.json": b"{}", "Z": b"", "é.txt": b"3"},
        ["b.bin", "a/x.json", "Z", "é.txt"],
    )
    shell = "find . -type f | cut -c3- | LC_ALL=C sort | xargs -d '\\n' sha256sum | sha256sum"
    out = subprocess.run(shell, shell=True, cwd=folder, capture_output=True, text=True, check=True)
    assert out.stdout.split()[0] == artifacts.folder_sha256(folder)


def test_validate_warns_about_records_that_carry_only_an_md5(registry: Registry) -> None:
    """MD5 alone guards the pickles: older records stay valid, reported as weaker."""
    registry.register("churn", 0)
    registry.register("churn", 1)
    path = registry.root / RECORD
    path.write_text("".join(ln for ln in path.read_text().splitlines(True) if "sha256:" not in ln))
    commit_all(registry, "a record from before SHA-256 pinning")
    result = registry.run("validate")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "registry is valid (4 files checked)"
    assert result.stderr.strip() == (
        f"warning: 1 record(s) carry only an md5, no sha256 (weaker; see docs/formats.md): {RECORD}"
    )


# -- DVC pointers -----------------------------------------------------------------------


def edit_pointer(reg: Registry, **out: str) -> None:
    pointer = reg.root / (ARTIFACT + ".dvc")
    data = yaml.safe_load(pointer.read_text())
    data["outs"][0].update(out)
    pointer.write_text(yaml.safe_dump(data, sort_keys=False))
    commit_all(reg, "edit the pointer")


def test_validate_refuses_a_pointer_whose_path_was_edited(churn_pushed: Registry) -> None:
    """DVC pointers: an edited `path:` no longer passes validate."""
    registry = churn_pushed
    edit_pointer(registry, path="../../../../../etc/passwd")
    result = registry.run("validate")
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines()[0] == (
        f"{ARTIFACT}.dvc: outs[0].path: '../../../../../etc/passwd' is not the artifact's "
        "file name 'model.pkl' beside it (the pointer's path was edited) (restore it: "
        f"`git checkout <base> -- {ARTIFACT}.dvc`; never edit a registered pointer)"
    )


def test_deploy_names_an_edited_pointer_path_as_the_reason(churn_pushed: Registry) -> None:
    """DVC pointers: deploy refuses an edited path for what it is, not as a missing object."""
    registry = churn_pushed
    edit_pointer(registry, path="../../../../../etc/passwd")
    set_stages(registry, "churn", "production:\n  version: v1.0.0\n", push=False)
    result = registry.run("deploy", "--stage", "production")
    assert result.exit_code == 1, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"modelreg: error: {ARTIFACT}.dvc: outs[0].path: '../../../../../etc")
    assert "refusing to fetch it" in line and "neither in the DVC cache" not in line


def test_deploy_names_a_pointer_md5_that_differs_from_the_record(churn_pushed: Registry) -> None:
    """DVC pointers: a pointer md5 other than the record's is named as such."""
    registry = churn_pushed
    want = record_of(registry)["artifact"]["md5"]  # type: ignore[index]
    other = hashlib.md5(b"other bytes").hexdigest()
    edit_pointer(registry, md5=other)
    set_stages(registry, "churn", "production:\n  version: v1.0.0\n", push=False)
    result = registry.run("deploy", "--stage", "production")
    assert result.exit_code == 1, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(
        f"modelreg: error: {RECORD}: artifact.md5: record says {want} but {ARTIFACT}.dvc "
        f"says {other}; refusing to fetch it"
    )


def test_deploy_says_an_object_is_missing_only_when_it_is(
    churn_pushed: Registry, tmp_path: Path
) -> None:
    """DVC pointers: with an intact pointer, a missing object is named as missing."""
    registry = churn_pushed
    md5 = str(record_of(registry)["artifact"]["md5"])  # type: ignore[index]
    set_stages(registry, "churn", "production:\n  version: v1.0.0\n")
    (registry.remote / "files" / "md5" / md5[:2] / md5[2:]).unlink()
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(registry.origin), str(clone))
    result = registry.run("deploy", "--stage", "production", cwd=clone)
    assert result.exit_code == 1
    assert f"{ARTIFACT}: md5 {md5} is neither in the DVC cache nor on the remote" in result.stderr


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (None, "artifact.path"),
        (b"outs: [", "outs"),
        (b"outs: []\n", "outs"),
        (b"outs:\n- {md5: x, path: model.pkl}\n- {md5: x, path: b}\n", "outs"),
        (b"outs:\n- {md5: MD5, path: sub/model.pkl}\n", "outs[0].path"),
        (b"outs:\n- {md5: MD5, path: ..}\n", "outs[0].path"),
        (b"outs:\n- {md5: MD5}\n", "outs[0].path"),
        (b"outs:\n- {md5: other, path: model.pkl}\n", "artifact.md5"),
        (b"- a list\n", "outs"),
    ],
)
def test_every_malformed_pointer_has_its_own_reason(text: bytes | None, key: str) -> None:
    """DVC pointers: each way a pointer can be wrong is named, and a good one passes."""
    md5 = "0" * 32
    body = text.replace(b"MD5", md5.encode()) if text else None
    found = artifacts.pointer_problem(body, ARTIFACT, md5, RECORD)
    assert found is not None and found.key == key
    good = f"outs:\n- md5: {md5}\n  size: 3\n  hash: md5\n  path: model.pkl\n".encode()
    assert artifacts.pointer_problem(good, ARTIFACT, md5, RECORD) is None


# -- Names ------------------------------------------------------------------------------

BAD_WRITES = [
    ("register", "churn\n"),
    ("register", "a..b"),
    ("register", "x.lock"),
    ("register", "churn.v2"),
    ("version", "v2.0.0\n"),
    ("version", "v1.0.0-rc.lock"),
    ("version", "v١.0.0"),
]


@pytest.mark.parametrize(("kind", "name"), BAD_WRITES)
def test_register_refuses_a_bad_name_before_writing_anything(
    registry: Registry, kind: str, name: str
) -> None:
    """Names: a name that would commit an unparsable file or an invalid ref is refused."""
    head = registry.git("rev-parse", "HEAD")
    art, met = registry.artifact("m"), registry.metrics("m", accuracy=0.9)
    model, extra = (name, []) if kind == "register" else ("churn", ["--version", name])
    result = registry.run("register", model, "--artifact", str(art), "--metrics", str(met), *extra)
    assert result.exit_code == 2, result.output
    assert "is not allowed" in result.stderr and "Traceback" not in result.output
    assert registry.git("rev-parse", "HEAD") == head
    assert registry.git("status", "--porcelain") == ""


def test_every_command_refuses_a_bad_name_before_reading_or_writing(churn_pushed: Registry) -> None:
    """Names: reads refuse what no release could have written, writes follow the name rule,
    and nothing reaches git with a raw path."""
    registry = churn_pushed
    head = registry.git("rev-parse", "HEAD")
    csv = registry.work / "in.csv"
    csv.write_text("a\n1\n")
    cases = [
        ["status", "../../etc"],
        ["status", "churn\n"],
        ["history", "../../etc"],
        ["history", "churn", "--stage", "a/b"],
        ["history", "churn", "--stage", "prod..x"],
        ["gate", "churn", "v1.0.0\n", "--stage", "production"],
        ["gate", "../x", "v1.0.0", "--stage", "production"],
        ["promote", "churn", "v1.0.0", "--to", "prod.lock"],
        ["promote", "churn", "v1.0.0-rc.lock", "--to", "production"],
        ["promote", "churn.v2", "v1.0.0", "--to", "production"],
        ["rollback", "churn", "--stage", "a..b"],
        ["rollback", "churn", "--stage", "production", "--to", "v1\n"],
        ["rollout", "status", "../churn"],
        ["rollout", "advance", "churn", "--stage", "x.lock", "--metrics", str(csv)],
        ["deploy", "--stage", "x.lock"],
        ["predict", "churn", "--stage", "../prod", "--input", str(csv)],
        ["predict", "chu rn", "--stage", "production", "--input", str(csv)],
        ["train", "a..b"],
        ["retrain", "a..b", "--trigger", "schedule"],
        ["drift", "../churn", "--current", str(csv)],
        ["example", "x.lock", "--kind", "classifier"],
    ]
    for args in cases:
        result = registry.run(*args)
        assert result.exit_code == 2, (args, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, (args, lines)
        line = lines[0]
        assert "is not a" in line or "is not allowed" in line, (args, line)
    assert registry.git("rev-parse", "HEAD") == head
    assert registry.git("status", "--porcelain") == ""


def test_a_name_an_older_release_allowed_stays_readable_and_validate_says_so(
    registry: Registry,
) -> None:
    """Names: `churn.v2` (a dot) is refused for new writes but still read and reported."""
    registry.register("churn", 0)
    registry.git("mv", "models/churn", "models/churn.v2")
    for path in (registry.root / "models/churn.v2").rglob("*.yaml"):
        path.write_text(path.read_text().replace("churn", "churn.v2"))
    commit_all(registry, "a model named by an older release")
    result = registry.run("status", "churn.v2")
    assert result.exit_code == 0, result.output
    assert "churn.v2" in result.stdout
    result = registry.run("validate")
    assert result.exit_code == 0, result.output
    assert (
        "warning: models/churn.v2/model.yaml: model name 'churn.v2' is not allowed for new "
        "writes (still readable; see docs/formats.md, Names)"
    ) in result.stderr.splitlines()


names_st = st.from_regex(r"[a-z0-9](?:[a-z0-9_-]{0,38}[a-z0-9])?", fullmatch=True)
versions_st = st.builds(
    lambda a, b, c, pre: f"v{a}.{b}.{c}" + (f"-{pre}" if pre else ""),
    st.integers(0, 10**6),
    st.integers(0, 10**6),
    st.integers(0, 10**6),
    st.one_of(st.none(), st.from_regex(r"rc\.[0-9]{1,3}|[a-z]{1,8}", fullmatch=True)),
)


@given(model=names_st, version=versions_st, stage=names_st)
def test_model_at_x_reads_a_version_when_it_looks_like_one_else_a_stage(
    model: str, version: str, stage: str
) -> None:
    """Names: MODEL@X parsing; no stage name is ever read as a version."""
    from modelreg.registry.names import is_name, is_version, parse_ref

    assert is_name(model) and is_name(stage) and is_version(version)
    assert parse_ref(model) == (model, None, None)
    assert parse_ref(f"{model}@{version}") == (model, version, None)
    assert parse_ref(f"{model}@{stage}") == (model, None, stage)
    assert parse_ref(f"{model}@v2") == (model, None, "v2")


@given(ref=st.text(max_size=30))
def test_model_at_x_refuses_anything_unsafe_with_one_usage_error(ref: str) -> None:
    """Names: whatever is typed, MODEL@X gives names safe as paths or exit 2."""
    from modelreg.errors import UsageError
    from modelreg.registry.names import is_readable_name, is_readable_version, parse_ref

    try:
        model, version, stage = parse_ref(ref)
    except UsageError as exc:
        assert "\n" not in str(exc)
        return
    assert is_readable_name(model) and "/" not in ref
    assert version is None or is_readable_version(version)
    assert stage is None or is_readable_name(stage)


DNS_1035 = r"[a-z]([-a-z0-9]*[a-z0-9])?"


@given(pairs=st.lists(st.tuples(names_st, names_st), min_size=2, max_size=30, unique=True))
def test_kubernetes_names_fit_every_kserve_suffix_and_never_collide(
    pairs: list[tuple[str, str]],
) -> None:
    """Names: derived Kubernetes names are DNS-1035 labels with room for KServe's suffixes,
    and distinct (model, stage) pairs get distinct names."""
    import re

    from modelreg.registry.names import KSERVE_SUFFIX_MAX, k8s_name

    names = [k8s_name(m, s) for m, s in pairs]
    for name in names:
        assert re.fullmatch(DNS_1035, name), name
        # KServe v0.20 + Knative: the longest derived names (see names.KSERVE_SUFFIX_MAX)
        for derived in ("-transformer-00001-deployment", "-predictor-00001-private"):
            assert len(name + derived) <= 63
        assert len("latest-" + name + "-predictor") <= 63  # canary tag host
        assert len(name) + KSERVE_SUFFIX_MAX <= 63
    assert len(set(names)) == len(pairs)
    assert names == [k8s_name(m, s) for m, s in pairs]  # stable


def test_kubernetes_names_stay_readable_where_they_can() -> None:
    """Names: plain pairs keep their plain name; the rest are hashed, never confusable."""
    from modelreg.registry.names import k8s_name

    assert k8s_name("churn", "production") == "churn-production"
    assert k8s_name("churn_a", "prod") != k8s_name("churn-a", "prod")
    assert k8s_name("a-b", "c") != k8s_name("a", "b-c")
    assert k8s_name("2fa", "prod").startswith("m2fa-prod--")


def test_label_values_are_valid_for_names_older_releases_wrote() -> None:
    """Names: `churn-` or a 70-character legacy name becomes a valid label value."""
    import re

    from modelreg.registry.names import label_value

    label = r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"
    assert label_value("churn_model") == "churn_model"
    for legacy in ("churn-", "prod_", "a." * 35, "x" * 100):
        value = label_value(legacy)
        assert len(value) <= 63 and re.fullmatch(label, value), value
    assert label_value("churn-") != label_value("churn_")


def test_deploy_refuses_two_pairs_with_one_kubernetes_name() -> None:
    """Names: a shared InferenceService name (a 32-bit hash collision) is exit 2 naming both."""
    import pytest

    from modelreg.errors import UsageError
    from modelreg.serving import kserve

    kserve.check_unique([("churn_model", "staging"), ("churn-model", "staging")])
    # found by search: 8 hex characters of SHA-256 agree for these two
    one, two = "x-" + "a" * 22 + "69992", "x-" + "a" * 22 + "105803"
    with pytest.raises(UsageError) as err:
        kserve.check_unique([(one, "s"), (two, "s")])
    assert one in str(err.value) and two in str(err.value)


# -- Errors that lie --------------------------------------------------------------------


def test_a_push_origin_refuses_shows_gits_reason_not_its_hint(
    registry: Registry, tmp_path: Path
) -> None:
    """Errors that lie: a rejected push names the rejection, not git's advice."""
    hook = registry.origin / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'main is protected' >&2\nexit 1\n")
    hook.chmod(0o755)
    art, met = registry.artifact("m"), registry.metrics("m", accuracy=0.9)
    result = registry.run(
        "register", "churn", "--artifact", str(art), "--metrics", str(met), "--push"
    )
    assert result.exit_code == 4, result.output
    (line,) = result.stderr.strip().splitlines()
    reason = line.split(" was rejected: ", 1)[1]
    assert "[remote rejected]" in reason and "(pre-receive hook declined)" in reason, line
    assert not reason.startswith("To "), line  # git's "To <url>" line is not the reason
    assert "hint:" not in line and "Note about fast-forwards" not in line, line
