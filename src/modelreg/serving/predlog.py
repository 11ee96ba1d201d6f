"""`serve`'s prediction log and feedback files: JSON Lines written by a thread.

The request path only puts a tuple on a queue; one thread per worker turns it into lines
in the format `predict` writes and `drift` reads (timestamp, model, stage, version, the
entity key, the features, prediction), plus request_id and role. Each worker writes its
own files, rotated by size and by UTC day, so no two processes append to one file.
"""

from __future__ import annotations

import json
import os
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
QUEUE_LIMIT = 100_000  # batches; past this the log drops rather than grow without bound


@dataclass(frozen=True)
class Batch:
    """One request's rows, as the request path hands them over (no formatting done yet)."""

    ts: float
    model: str
    stage: str
    request_id: str
    features: Sequence[str]
    rows: Sequence[Sequence[Any]]
    versions: Sequence[str]
    roles: Sequence[str]
    predictions: Sequence[Any]
    key_name: str | None = None
    keys: Sequence[str] | None = None


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


def stamp(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Rotating:
    """One worker's current file in one folder, rotated by size and UTC day."""

    def __init__(self, folder: Path, prefix: str, max_bytes: int) -> None:
        self.folder, self.prefix, self.max_bytes = folder, prefix, max_bytes
        self.day = ""
        self.seq = 0
        self.handle: TextIO | None = None
        self.path: Path | None = None

    def write(self, text: str, ts: float) -> None:
        day = datetime.fromtimestamp(ts, timezone.utc).strftime("%Y%m%d")
        if self.handle is None or day != self.day or self.handle.tell() >= self.max_bytes:
            self._open(day)
        assert self.handle is not None
        self.handle.write(text)

    def _open(self, day: str) -> None:
        self.close()
        self.seq = self.seq + 1 if day == self.day else 0
        self.day = day
        self.folder.mkdir(parents=True, exist_ok=True)
        while True:
            name = f"{self.prefix}-{day}-{os.getpid()}-{self.seq:04d}.jsonl"
            self.path = self.folder / name
            if not self.path.exists() or self.path.stat().st_size < self.max_bytes:
                break
            self.seq += 1
        self.handle = open(self.path, "a", encoding="utf-8")  # noqa: SIM115

    def flush(self) -> None:
        if self.handle is not None:
            self.handle.flush()

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


class LogWriter:
    """The thread that writes prediction logs and feedback for one worker."""

    def __init__(self, log_dir: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.log_dir = log_dir
        self.max_bytes = max_bytes
        self.dropped = 0
        self._q: queue.Queue[Batch | Feedback | None] = queue.Queue(QUEUE_LIMIT)
        self._files: dict[tuple[str, ...], _Rotating] = {}
        self._thread = threading.Thread(target=self._run, name="modelreg-log", daemon=True)
        self._thread.start()

    def put(self, item: Batch | Feedback) -> None:
        try:
            self._q.put_nowait(item)
        except queue.Full:
            self.dropped += 1

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued, then stop."""
        self._q.put(None)
        self._thread.join(timeout)

    def drain(self, timeout: float = 5.0) -> None:
        """Wait until everything queued so far is on disk (tests, shutdown)."""
        done = threading.Event()
        self._q.put(Feedback(0.0, "", done))  # a marker the thread recognises
        done.wait(timeout)

    def _run(self) -> None:
        while True:
            item = self._q.get()
            items = [item]
            while len(items) < 1000:
                try:
                    items.append(self._q.get_nowait())
                except queue.Empty:
                    break
            stop = False
            for it in items:
                if it is None:
                    stop = True
                elif isinstance(it, Feedback) and isinstance(it.label, threading.Event):
                    self._flush()
                    it.label.set()
                else:
                    try:
                        self._write(it)
                    except (OSError, TypeError, ValueError):
                        self.dropped += 1
            self._flush()
            if stop:
                for f in self._files.values():
                    f.close()
                return

    def _flush(self) -> None:
        for f in self._files.values():
            f.flush()

    def _file(self, *parts: str, prefix: str) -> _Rotating:
        key = (*parts, prefix)
        found = self._files.get(key)
        if found is None:
            found = self._files[key] = _Rotating(
                self.log_dir.joinpath(*parts), prefix, self.max_bytes
            )
        return found

    def _write(self, item: Batch | Feedback) -> None:
        if isinstance(item, Feedback):
            self._write_feedback(item)
            return
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

    def _write_feedback(self, fb: Feedback) -> None:
        rec: dict[str, Any] = {"timestamp": stamp(fb.ts), "request_id": fb.request_id}
        if fb.model is not None:
            rec.update(model=fb.model, stage=fb.stage, version=fb.version, role=fb.role)
        rec["label"] = fb.label
        parts = (fb.model, fb.stage or "", "feedback") if fb.model else ("feedback",)
        text = json.dumps(rec, separators=(",", ":"), default=str) + "\n"
        self._file(*parts, prefix="feedback").write(text, fb.ts)
