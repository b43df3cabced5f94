"""A small client for mpv's JSON IPC (``--input-ipc-server``): commands with request ids, events.

One reader thread parses the socket's JSON lines: replies wake the caller waiting on that
``request_id``; everything else (events, property changes, ``client-message``) goes to
``events``. When mpv goes away the reader puts ``None`` on ``events`` and pending calls fail.
Writes are serialised by a lock, so commands from several threads reach mpv in send order.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import queue
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

from kizunasr_vs.core.errors import KizunaError

log = logging.getLogger("kizunasr.mpv")

Event = dict[str, Any]


class MpvError(KizunaError, RuntimeError):
    """mpv answered a command with an error, or the connection is gone."""


@dataclass
class _Pending:
    done: threading.Event = field(default_factory=threading.Event)
    reply: Event | None = None


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
        """One JSON message; a line that does not parse (e.g. invalid UTF-8 in a file name) or is not an object
        is logged and skipped."""
        try:
            message = json.loads(line.decode("utf-8", errors="surrogateescape"))
        except ValueError:
            log.warning("mpv IPC: skipping a line that is not JSON: %r", line[:200])
            return
        if not isinstance(message, dict):  # mpv sends objects only: anything else is noise, not a reason to stop
            log.debug("mpv IPC: skipping a message that is not a JSON object: %r", line[:200])
            return
        self._dispatch(message)

    def _read_loop(self) -> None:
        buf = b""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    if line.strip():
                        self._dispatch_line(line)
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
