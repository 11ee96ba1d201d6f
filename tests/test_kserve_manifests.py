"""KServe manifests: valid against KServe's own CRD schema, and storageUri readable by
KServe's own storage library (issue 11 §7)."""

from __future__ import annotations

import functools
import http.server
import re
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from modelreg.registry.names import label_value
from modelreg.registry.records import VersionRecord
from modelreg.serving import kserve
from modelreg.serving.desired import Want

CRD = Path(__file__).parent / "fixtures" / "kserve" / "serving.kserve.io_inferenceservices.yaml"
DNS_1035 = r"[a-z]([-a-z0-9]*[a-z0-9])?"
LABEL_VALUE = r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"


def want(model: str, version: str, weight: int, role: str = "stable") -> Want:
    return Want(model, role, weight, record(model, version))  # type: ignore[arg-type]


def record(model: str, version: str, name: str = "model.pkl") -> VersionRecord:
    return VersionRecord.from_dict(
        {
            "model": model,
            "version": version,
            "created_at": "t",
            "created_by": "a",
            "artifact": {
                "path": f"models/{model}/artifacts/{version}/{name}",
                "md5": "9b1e" + "0" * 28,
                "size": 1,
                "format": "sklearn-pickle",
            },
            "metrics": {"accuracy": 0.9},
        }
    )


def strict(node: Any) -> Any:
    """An OpenAPI v3 structural schema as JSON Schema, closed where it lists properties."""
    if isinstance(node, list):
        return [strict(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: strict(v) for k, v in node.items() if not k.startswith("x-kubernetes-")}
    out.pop("nullable", None)
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if "properties" in node and not node.get("x-kubernetes-preserve-unknown-fields"):
        out.setdefault("additionalProperties", False)
    return out


@functools.lru_cache(maxsize=1)
def validator() -> Any:
    import jsonschema

    crd = yaml.load(CRD.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1beta1"]
    return jsonschema.Draft7Validator(strict(version["schema"]["openAPIV3Schema"]))


CASES = [
    ("churn", "production", [want("churn", "v1.0.0", 100)]),
    ("churn_model", "staging", [want("churn_model", "v1.0.0", 100)]),
    ("churn-model", "staging", [want("churn-model", "v1.0.0", 100)]),
    ("m" * 40, "prod_", [want("m" * 40, "v2.0.0-rc.1", 100)]),
    (
        "fraud",
        "production",
        [want("fraud", "v1.0.0", 90), want("fraud", "v1.1.0", 10, "candidate")],
    ),
    ("churn-", "a" * 70, [want("churn-", "v1.0.0", 100)]),
]


@pytest.mark.parametrize("remote", ["s3://bucket/dvc", "https://dvc.example/store", "/srv/dvc"])
def test_every_rendered_manifest_is_valid_against_the_kserve_crd(remote: str) -> None:
    names = set()
    for model, stage, wants in CASES:
        doc = yaml.safe_load(kserve.render_isvc(model, stage, wants, remote))
        errors = [e.message for e in validator().iter_errors(doc)]
        assert not errors, errors
        meta = doc["metadata"]
        assert re.fullmatch(DNS_1035, meta["name"]) and len(meta["name"]) <= 34
        pod = doc["spec"]["predictor"]["labels"]
        for value in [*meta["labels"].values(), *pod.values()]:
            assert len(value) <= 63 and re.fullmatch(LABEL_VALUE, value), value
        # the pods of the revision serve the candidate when there is one (the new revision)
        assert pod["modelreg.dev/version"] == label_value(wants[-1].record.version)
        names.add(meta["name"])
    assert len(names) == len(CASES)


def test_the_strict_schema_refuses_a_misspelt_field() -> None:
    doc = yaml.safe_load(kserve.render_isvc("churn", "production", CASES[0][2], "s3://b/d"))
    doc["spec"]["predictor"]["model"]["storageURI"] = "s3://b/d"
    assert list(validator().iter_errors(doc))


def test_storage_uri_names_the_artifact_file_over_http() -> None:
    rec = record("churn", "v1.4.0")
    uri = kserve.storage_uri("https://host/dvc/", rec)
    assert uri == "https://host/dvc/serving/churn/v1.4.0/model.pkl"
    assert kserve.storage_uri("gs://b/dvc", rec) == "gs://b/dvc/serving/churn/v1.4.0/"


def published(root: Path, rec: VersionRecord) -> bytes:
    data = b"model bytes " + rec.version.encode()
    target = root / kserve.serving_path(rec)
    target.parent.mkdir(parents=True)
    target.write_bytes(data)
    return data


def test_kserve_storage_downloads_a_file_remote(tmp_path: Path) -> None:
    storage = pytest.importorskip("kserve_storage").Storage
    rec = record("churn", "v1.4.0")
    data = published(tmp_path / "remote", rec)
    out = storage.download(kserve.storage_uri(str(tmp_path / "remote"), rec), str(tmp_path / "o"))
    assert (Path(out) / "model.pkl").read_bytes() == data


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


def test_kserve_storage_downloads_a_loopback_http_remote(tmp_path: Path) -> None:
    storage = pytest.importorskip("kserve_storage").Storage
    rec = record("churn", "v1.4.0")
    data = published(tmp_path / "remote", rec)
    handler = functools.partial(_Quiet, directory=str(tmp_path / "remote"))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        remote = f"http://127.0.0.1:{server.server_address[1]}/"
        try:
            out = storage.download(kserve.storage_uri(remote, rec), str(tmp_path / "o"))
            folder = remote + kserve.serving_path(rec).rsplit("/", 1)[0] + "/"
            with pytest.raises(RuntimeError, match="No filename"):
                storage.download(folder, str(tmp_path / "o2"))  # what deploy rendered before
        finally:
            server.shutdown()
    assert (Path(out) / "model.pkl").read_bytes() == data
