"""`serve`'s prediction log and feedback files: JSON Lines written by a separate process.

The request path only marshals one message per request (the rows as they arrived, the
versions and the predictions) onto a pipe; a writer process per worker, started with
the worker, turns it into lines in the format `predict` writes and `drift` reads
(timestamp, model, stage, version, the entity key, the features, prediction), plus
request_id and role. So the formatting, one line per row, costs the worker nothing and
no thread of the worker competes with requests for the interpreter. Each worker's
writer names its files with the worker's pid, rotated by size and by UTC day, so no two
processes append to one file.

The pipe is never dropped from: when the writer falls behind, a full pipe slows the
worker down rather than losing rows. When the writer dies, the worker reports it
(`on_failure`, which `serve` logs and counts in `modelreg_prediction_log_failures_total`)
with what may be lost (what was still in the pipe), starts a new writer and sends it
the message the dead one refused.
"""

from __future__ import annotations

import contextlib
import json
import marshal
import math
import os
import re
import select
import signal
import struct
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from itertools import chain
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
_ENCODE = json.JSONEncoder(separators=(",", ":"), default=str).encode
_RESERVED = {"timestamp", "model", "stage", "version", "request_id", "role", "prediction"}
_HEADER = struct.Struct("<I")
FLUSH_SECONDS = 0.01  # how long the worker batches messages before it sends them
FLUSH_BYTES = 256 * 1024  # or until it has this much
PIPE_BYTES = 1 << 20  # what the writer may lag behind before the worker waits for it
F_SETPIPE_SZ = 1031  # Linux fcntl: grow a pipe's buffer


@dataclass(frozen=True)
class Batch:
    """One request's rows, as the request path hands them over (no formatting done yet)."""

    ts: float
    model: str
    stage: str
    request_id: str
    features: Sequence[str]
    rows: Sequence[Sequence[Any]]
    versions: str | Sequence[str]  # a str: the version of every row
    roles: str | Sequence[str]
    predictions: Sequence[Any]
    key_name: str | None = None
    keys: Sequence[str] | None = None
    # instead of `rows`: the V1 body they came from, `{"instances": [[numbers…], …]}`
    # (checked by the worker), whose numbers the writer logs as the client wrote them
    raw: bytes | None = None


@dataclass(frozen=True)
class Feedback:
    """One label for one request id; `model`/`stage` when the server knows the request."""

    ts: float
    request_id: str
    label: Any
    model: str | None = None
    stage: str | None = None
    version: str | None = None
    role: str | None = None


def _encode(msg: tuple[Any, ...]) -> bytes:
    """A message for the writer process: `marshal` (plain values only, nothing to run when
    read back, unlike pickle); a value marshal cannot write goes as its JSON reading."""
    try:
        return marshal.dumps(msg)
    except ValueError:
        return marshal.dumps(json.loads(json.dumps(msg, default=str)))


def stamp(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Rotating:
    """One worker's current file in one folder, rotated by size and UTC day."""

    def __init__(self, folder: Path, prefix: str, max_bytes: int, pid: int) -> None:
        self.folder, self.prefix, self.max_bytes, self.pid = folder, prefix, max_bytes, pid
        self.day = ""
        self.seq = 0
        self.size = 0
        self.handle: IO[bytes] | None = None
        self.path: Path | None = None

    def write(self, text: str, ts: float) -> None:
        day = datetime.fromtimestamp(ts, timezone.utc).strftime("%Y%m%d")
        if self.handle is None or day != self.day or self.size >= self.max_bytes:
            self._open(day)
        assert self.handle is not None
        data = text.encode("utf-8")
        self.handle.write(data)
        self.size += len(data)

    def _open(self, day: str) -> None:
        self.close()
        self.seq = self.seq + 1 if day == self.day else 0
        self.day = day
        self.folder.mkdir(parents=True, exist_ok=True)
        while True:
            name = f"{self.prefix}-{day}-{self.pid}-{self.seq:04d}.jsonl"
            self.path = self.folder / name
            if not self.path.exists() or self.path.stat().st_size < self.max_bytes:
                break
            self.seq += 1
        self.handle = open(self.path, "ab")  # noqa: SIM115
        self.size = self.handle.tell()

    def flush(self) -> None:
        if self.handle is not None:
            self.handle.flush()

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


def _fast(values: list[Any]) -> bool:
    """Whether every value is a finite float or an int, which JSON writes as repr() does."""
    if not set(map(type, values)) <= {float, int}:
        return False
    try:
        return all(map(math.isfinite, values))
    except OverflowError:  # an int too large for a float: let the encoder write it
        return False


_INSTANCES = re.compile(rb'"instances"\s*:\s*\[')


def number_texts(raw: bytes, n: int, f: int) -> list[str] | None:
    """The JSON text of each number of a V1 body's `instances`, row after row, without
    parsing them: the worker found `instances` to be n rows of f numbers each, so the
    array holds nothing but numbers, commas, brackets and white space. None when the text
    does not show that unambiguously (then the writer parses the body)."""
    found = list(_INSTANCES.finditer(raw))
    if len(found) != 1:  # none, or one more in a string or a nested object: ambiguous
        return None
    tail = raw[found[0].end() :].translate(None, b" \t\r\n")
    end = tail.find(b"]]")  # rows are "[…]" joined by ",": the first "]]" ends the array
    body = tail[1:end]
    if end < 0 or not tail.startswith(b"[") or body.count(b"],[") != n - 1:
        return None
    try:
        text = body.replace(b"],[", b",").decode("ascii")
    except UnicodeDecodeError:
        return None
    flat = text.split(",")
    if len(flat) != n * f or "[" in text or "]" in text or '"' in text or "{" in text:
        return None
    return flat


def _per_row(item: Batch) -> Batch:
    """`item` with a version and a role per row."""
    if not isinstance(item.versions, str):
        return item
    n = len(item.predictions)
    roles = [item.roles] * n if isinstance(item.roles, str) else item.roles
    return replace(item, versions=[item.versions] * n, roles=roles)


def _json_value(v: Any) -> str:
    if type(v) is int or (type(v) is float and math.isfinite(v)):
        return repr(v)
    return _ENCODE(v)


class LineWriter:
    """Formats messages into JSON Lines files: what the writer process runs (and tests)."""

    def __init__(self, log_dir: Path, *, max_bytes: int = DEFAULT_MAX_BYTES, pid: int = 0):
        self.log_dir = log_dir
        self.max_bytes = max_bytes
        self.pid = pid or os.getpid()
        self.dropped = 0
        self._files: dict[tuple[str, ...], _Rotating] = {}

    def write(self, item: Batch | Feedback) -> None:
        texts = None
        if isinstance(item, Batch) and item.raw is not None:
            n, features = len(item.predictions), item.features
            if not (_RESERVED.intersection(features) or item.key_name in features):
                texts = number_texts(item.raw, n, len(features))
            if texts is None:
                item = replace(item, rows=json.loads(item.raw)["instances"], raw=None)
            else:
                f = len(features)
                rows = [texts[i * f : (i + 1) * f] for i in range(n)]
                item = replace(item, rows=rows, raw=None)
        try:
            if isinstance(item, Feedback):
                self.write_feedback(item)
            elif _RESERVED.intersection(item.features) or item.key_name in item.features:
                self.write_records(_per_row(item))  # a feature shadows a field: a dict decides
            else:
                self.write_batch(item, texts=texts is not None)
        except (OSError, TypeError, ValueError) as exc:
            self.dropped += len(item.rows) if isinstance(item, Batch) else 1
            print(f"modelreg serve: prediction log: {exc}", file=sys.stderr, flush=True)

    def flush(self) -> None:
        for f in self._files.values():
            f.flush()

    def close(self) -> None:
        for f in self._files.values():
            f.close()

    def _file(self, *parts: str, prefix: str) -> _Rotating:
        key = (*parts, prefix)
        found = self._files.get(key)
        if found is None:
            found = self._files[key] = _Rotating(
                self.log_dir.joinpath(*parts), prefix, self.max_bytes, self.pid
            )
        return found

    def write_batch(self, item: Batch, *, texts: bool = False) -> None:
        """The lines by hand, one `%` per row: byte for byte what `write_records` writes
        (`texts`: the rows are the JSON texts of their values already)."""
        enc = _ENCODE
        head = (
            f'{{"timestamp":{enc(stamp(item.ts))},"model":{enc(item.model)},'
            f'"stage":{enc(item.stage)},"version":'
        ).replace("%", "%%")
        rid = enc(item.request_id)
        with_key = item.key_name is not None and item.keys is not None
        key = "," + enc(item.key_name).replace("%", "%%") + ":%s" if with_key else ""
        names = [enc(f).replace("%", "%%") for f in item.features]
        fast = "".join(f",{n}:%r" for n in names)
        slow = "".join(f",{n}:%s" for n in names)
        tail = ',"prediction":%s}'
        if isinstance(item.versions, str):
            one = self._one_version(item, head, rid, key, names, texts=texts)
            if one is not None:
                self._file(item.model, item.stage, prefix="serve").write(one, item.ts)
                return
            item = _per_row(item)
        rows = [list(r) for r in item.rows]
        all_fast = not texts and _fast(list(chain.from_iterable(rows)))
        templates: dict[tuple[str, str, bool], str] = {}
        lines = []
        for i, row in enumerate(rows):
            f = all_fast or (not texts and _fast(row))
            vr = (item.versions[i], item.roles[i], f)
            tmpl = templates.get(vr)
            if tmpl is None:
                mid = f'{enc(vr[0])},"request_id":{rid},"role":{enc(vr[1])}'.replace("%", "%%")
                tmpl = templates[vr] = head + mid + key + (fast if f else slow) + tail
            values = row if f or texts else [enc(v) for v in row]
            if with_key:
                assert item.keys is not None
                values = [enc(item.keys[i]), *values]
            values.append(_json_value(item.predictions[i]))
            lines.append(tmpl % tuple(values))
        self._file(item.model, item.stage, prefix="serve").write("\n".join(lines) + "\n", item.ts)

    def _one_version(
        self, item: Batch, head: str, rid: str, key: str, names: list[str], *, texts: bool
    ) -> str | None:
        """The lines of a request served by one version, with one `%` for all of them: the
        values of all rows interleaved by slice assignments. None when a value needs the
        JSON encoder (then row by row)."""
        enc = _ENCODE
        flat = list(chain.from_iterable(item.rows))
        if not texts and not _fast(flat):
            return None
        preds = list(item.predictions)
        pred_fast = _fast(preds)
        mid = f'{enc(item.versions)},"request_id":{rid},"role":{enc(item.roles)}'
        fmt = "%s" if texts else "%r"
        tmpl = (
            head
            + mid.replace("%", "%%")
            + key
            + "".join(f",{n}:{fmt}" for n in names)
            + (',"prediction":%r}' if pred_fast else ',"prediction":%s}')
        )
        n, f = len(preds), len(names)
        cols = f + 1 + (1 if key else 0)
        out: list[Any] = [None] * (n * cols)
        first = 0
        if key:
            assert item.keys is not None
            out[0::cols] = [enc(k) for k in item.keys]
            first = 1
        for k in range(f):
            out[first + k :: cols] = flat[k::f]
        out[cols - 1 :: cols] = preds if pred_fast else [_json_value(p) for p in preds]
        return "\n".join([tmpl] * n) % tuple(out) + "\n"

    def write_records(self, item: Batch) -> None:
        """The reference: one dict per row through json.dumps."""
        ts = stamp(item.ts)
        lines = []
        for i, row in enumerate(item.rows):
            rec: dict[str, Any] = {
                "timestamp": ts,
                "model": item.model,
                "stage": item.stage,
                "version": item.versions[i],
                "request_id": item.request_id,
                "role": item.roles[i],
            }
            if item.key_name is not None and item.keys is not None:
                rec[item.key_name] = item.keys[i]
            rec.update(zip(item.features, row, strict=True))
            rec["prediction"] = item.predictions[i]
            lines.append(json.dumps(rec, separators=(",", ":"), default=str))
        self._file(item.model, item.stage, prefix="serve").write("\n".join(lines) + "\n", item.ts)

    def write_feedback(self, fb: Feedback) -> None:
        rec: dict[str, Any] = {"timestamp": stamp(fb.ts), "request_id": fb.request_id}
        if fb.model is not None:
            rec.update(model=fb.model, stage=fb.stage, version=fb.version, role=fb.role)
        rec["label"] = fb.label
        parts = (fb.model, fb.stage or "", "feedback") if fb.model else ("feedback",)
        text = json.dumps(rec, separators=(",", ":"), default=str) + "\n"
        self._file(*parts, prefix="feedback").write(text, fb.ts)


# -- the worker's side ----------------------------------------------------------------


class LogWriter:
    """The worker's end: one marshalled message per request onto the writer process's pipe.

    `on_failure(message)` is called (from the request path) when the writer process was
    found dead; a new one is started and the refused message sent to it.
    """

    def __init__(
        self,
        log_dir: Path,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        on_failure: Callable[[str], None] | None = None,
    ) -> None:
        self.log_dir = log_dir
        self.max_bytes = max_bytes
        self.on_failure = on_failure
        self.failures = 0
        self._drains = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._start()

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Batch the messages of the requests of `loop`: sent together at most FLUSH_SECONDS
        after the first, one write to the pipe (and one wake-up of the writer) for all."""
        self._loop = loop

    @property
    def pid(self) -> int:
        """The writer process's pid (tests)."""
        assert self._proc is not None
        return self._proc.pid

    def _start(self) -> None:
        code = "from modelreg.serving.predlog import writer_main; writer_main()"
        args = [str(self.log_dir), str(self.max_bytes), str(os.getpid())]
        self._proc = subprocess.Popen(
            [sys.executable, "-c", code, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )
        assert self._proc.stdin is not None
        try:
            import fcntl

            fcntl.fcntl(self._proc.stdin.fileno(), F_SETPIPE_SZ, PIPE_BYTES)
        except OSError:  # not Linux, or over /proc/sys/fs/pipe-max-size: the default pipe
            pass

    def put(self, item: Batch | Feedback) -> None:
        if isinstance(item, Batch):
            msg: tuple[Any, ...] = (
                "b",
                item.ts,
                item.model,
                item.stage,
                item.request_id,
                tuple(item.features),
                item.rows if item.raw is None else (),
                item.versions,
                item.roles,
                item.predictions,
                item.key_name,
                item.keys,
                item.raw,
            )
        else:
            msg = ("f", *_feedback_fields(item))
        data = _encode(msg)
        frame = _HEADER.pack(len(data)) + data
        if self._loop is None:
            self._send(frame)
            return
        if not self._pending:
            self._loop.call_later(FLUSH_SECONDS, self.flush)
        self._pending.append(frame)
        self._pending_bytes += len(frame)
        if self._pending_bytes >= FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        """Send what is batched."""
        if self._pending:
            frames, self._pending, self._pending_bytes = self._pending, [], 0
            self._send(b"".join(frames))

    def _send(self, frame: bytes) -> None:
        for attempt in range(2):
            if self._proc is None or self._proc.stdin is None:
                return  # closed: the server is stopping
            try:
                _write_all(self._proc.stdin.fileno(), frame)
                return
            except (BrokenPipeError, ValueError):
                self._restart(lost_now=attempt == 1)

    def _restart(self, *, lost_now: bool = False) -> None:
        """The writer died: report it, with what may be lost, and start another."""
        assert self._proc is not None
        old = self._proc
        code = old.wait()
        self.failures += 1
        for stream in (old.stdin, old.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):  # a dead process takes no buffer
                    stream.close()
        message = (
            f"the prediction log writer (pid {old.pid}) exited with code {code}; "
            f"rows still in its pipe (up to {PIPE_BYTES // 1024} KiB) were not written; "
            "a new writer continues the log"
        )
        if lost_now:
            message += " (the new writer refused this request's rows too: not written)"
        self._start()
        if self.on_failure is not None:
            self.on_failure(message)

    def drain(self, timeout: float = 5.0) -> None:
        """Wait until everything sent so far is on disk (tests, shutdown)."""
        self._drains += 1
        token = self._drains
        self.flush()
        data = _encode(("d", token))
        self._send(_HEADER.pack(len(data)) + data)
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        buf = b""
        while True:
            ready, _, _ = select.select([fd], [], [], timeout)
            if not ready:
                return
            chunk = os.read(fd, 64)
            if not chunk:
                return
            buf += chunk
            if f"{token}\n".encode() in buf:
                return

    def close(self, timeout: float = 10.0) -> None:
        """Let the writer write what is queued, then stop it."""
        self.flush()
        proc = self._proc
        if proc is None:
            return
        self._proc = None
        try:
            if proc.stdin is not None:
                proc.stdin.close()
            proc.wait(timeout)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def _feedback_fields(fb: Feedback) -> tuple[Any, ...]:
    return (fb.ts, fb.request_id, fb.label, fb.model, fb.stage, fb.version, fb.role)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def writer_main() -> None:
    """The writer process: frames from stdin to files, until stdin closes."""
    # Ctrl-C or a TERM to the process group is for the server: the writer stops when its
    # worker closes the pipe (or dies), after writing everything it was sent.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    log_dir, max_bytes, pid = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    lines = LineWriter(log_dir, max_bytes=max_bytes, pid=pid)
    fd_in, fd_out = sys.stdin.fileno(), sys.stdout.fileno()
    buf = bytearray()
    size = _HEADER.size
    while True:
        chunk = os.read(fd_in, PIPE_BYTES)
        if not chunk:
            break
        buf += chunk
        pos = 0
        while len(buf) - pos >= size:
            (n,) = _HEADER.unpack_from(buf, pos)
            if len(buf) - pos - size < n:
                break
            msg = marshal.loads(buf[pos + size : pos + size + n])
            pos += size + n
            if msg[0] == "b":
                lines.write(Batch(*msg[1:]))
            elif msg[0] == "f":
                lines.write(Feedback(*msg[1:]))
            elif msg[0] == "d":
                lines.flush()
                _write_all(fd_out, f"{msg[1]}\n".encode())
        del buf[:pos]
        lines.flush()  # once per read from the pipe (a burst of requests), not per request
    lines.flush()
    lines.close()
