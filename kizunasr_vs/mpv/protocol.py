"""A small client for mpv's JSON IPC (``--input-ipc-server``): commands with request ids, events.

One reader thread parses the socket's JSON lines: replies wake the caller waiting on that
``request_id``; everything else (events, property changes, ``client-message``) goes to
``events``. When mpv goes away the reader puts ``None`` on ``events`` and pending calls fail.
Writes are serialised by a lock, so commands from several threads reach mpv in send order.

Any client of the socket can write to it, so the reader takes nothing on trust: a line longer than
``MAX_LINE`` is dropped (and never held in memory whole), a message nested deeper than ``MAX_DEPTH``
is dropped, and no line can end the reader; each dropped line is logged.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import queue
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from kizunasr_vs.core import bounded_json
from kizunasr_vs.core.errors import KizunaError

log = logging.getLogger("kizunasr.mpv")

Event = dict[str, Any]

MAX_LINE = 4 << 20  # bytes; mpv's own messages (events, the properties the worker reads) are far smaller
MAX_DEPTH = 32  # nesting of JSON arrays and objects; mpv's messages nest a few levels


class MpvError(KizunaError, RuntimeError):
    """mpv answered a command with an error, or the connection is gone."""


@dataclass
class _Pending:
    done: threading.Event = field(default_factory=threading.Event)
    reply: Event | None = None


class LineSplitter:
    """Bytes in, complete lines out, in time linear in the bytes: each chunk is searched once for line ends and
    pieces are joined once per line. A line over ``limit`` bytes is dropped as it arrives (logged at its end)."""

    def __init__(self, limit: int = MAX_LINE) -> None:
        self.limit = limit
        self.parts: list[bytes] = []
        self.size = 0  # bytes held in parts
        self.dropping = 0  # bytes of an over-long line seen so far (0: not dropping)

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            piece = chunk[start:] if end < 0 else chunk[start:end]
            if self.dropping or self.size + len(piece) > self.limit:
                self.dropping += self.size + len(piece)
                self.parts, self.size = [], 0
            elif piece:
                self.parts.append(piece)
                self.size += len(piece)
            if end < 0:
                return
            if self.dropping:
                log.warning("mpv IPC: dropped a line of %d bytes (the limit is %d)", self.dropping, self.limit)
            elif self.parts:
                yield b"".join(self.parts)
            self.parts, self.size, self.dropping = [], 0, 0
            start = end + 1


class MpvIpc:
    """A connected JSON IPC client; ``events`` yields event dicts, then ``None`` at disconnect."""

    def __init__(self, path: str, connect_timeout: float = 5.0) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(connect_timeout)
        self.sock.connect(path)
        self.sock.settimeout(None)
        self.events: queue.Queue[Event | None] = queue.Queue()
        self.closed = threading.Event()
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read_loop, name="mpv-ipc-reader", daemon=True)
        self._reader.start()

    def _dispatch_line(self, line: bytes) -> None:
        """One JSON message; a line that does not parse (e.g. invalid UTF-8 in a file name), nests too deep or is
        not an object is logged and skipped."""
        try:
            message = bounded_json.loads(line.decode("utf-8", errors="surrogateescape"), MAX_DEPTH)
        except bounded_json.TooDeep as exc:
            log.warning("mpv IPC: skipping a message %s: %r", exc, line[:200])
            return
        except ValueError:
            log.warning("mpv IPC: skipping a line that is not JSON: %r", line[:200])
            return
        if not isinstance(message, dict):  # mpv sends objects only: anything else is noise, not a reason to stop
            log.debug("mpv IPC: skipping a message that is not a JSON object: %r", line[:200])
            return
        self._dispatch(message)

    def _read_loop(self) -> None:
        lines = LineSplitter()
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                for line in lines.feed(chunk):
                    if not line.strip():
                        continue
                    try:
                        self._dispatch_line(line)
                    except Exception:  # noqa: BLE001 - one bad line must not end the reader (and the worker)
                        log.exception("mpv IPC: a line could not be handled: %r", line[:200])
        except OSError:
            pass
        finally:
            self.closed.set()
            with self._lock:
                pending, self._pending = list(self._pending.values()), {}
            for p in pending:
                p.done.set()
            self.events.put(None)

    def _dispatch(self, msg: Event) -> None:
        if "event" in msg:
            self.events.put(msg)
            return
        rid = msg.get("request_id")
        with self._lock:
            pending = self._pending.pop(rid, None) if isinstance(rid, int) else None
        if pending is not None:
            pending.reply = msg
            pending.done.set()

    def send(self, command: list[Any] | dict[str, Any], wait: bool = True, timeout: float = 30.0) -> Any:
        """Send a command (positional list or named-argument dict); return its ``data`` if ``wait``.

        Raises MpvError on an mpv error, a timeout, or a closed connection.
        """
        if self.closed.is_set():
            raise MpvError("mpv connection closed")
        rid = next(self._ids)
        pending = _Pending()
        payload = (json.dumps({"command": command, "request_id": rid}) + "\n").encode()
        with self._lock:
            if wait:
                self._pending[rid] = pending
            try:
                self.sock.sendall(payload)
            except OSError as exc:
                self._pending.pop(rid, None)
                raise MpvError(f"mpv connection lost: {exc}") from exc
        if not wait:
            return None
        if not pending.done.wait(timeout):
            with self._lock:
                self._pending.pop(rid, None)
            raise MpvError(f"mpv did not answer {command!r} within {timeout:g} s")
        reply = pending.reply
        if reply is None:
            raise MpvError("mpv connection closed")
        if reply.get("error") != "success":
            raise MpvError(f"{command!r}: {reply.get('error')}")
        return reply.get("data")

    def get(self, name: str, default: Any = None) -> Any:
        """A property value, or ``default`` when it is unavailable."""
        try:
            return self.send(["get_property", name])
        except MpvError:
            if self.closed.is_set():
                raise
            return default

    def set(self, name: str, value: Any) -> None:
        self.send(["set_property", name, value])

    def observe(self, observe_id: int, name: str) -> None:
        """Property changes arrive as ``property-change`` events with ``id`` and ``data``."""
        self.send(["observe_property", observe_id, name])

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
