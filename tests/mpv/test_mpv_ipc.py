"""The mpv worker's IPC robustness: the real protocol client and worker against a socket server that speaks
mpv's JSON IPC (replies to every command) and also sends malformed lines. No mpv needed."""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kizunasr_vs.mpv import worker
from tests.mpv_harness import write_profile


class FakeMpv:
    """A Unix socket server standing in for mpv: answers each command with success, records the commands."""

    def __init__(self, path: Path) -> None:
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen(1)
        self.commands: queue.Queue[list[Any]] = queue.Queue()
        self.conn: socket.socket | None = None
        self.connected = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.conn, _ = self.server.accept()
        self.connected.set()
        buf = b""
        with contextlib.suppress(OSError):  # closed by the test
            while chunk := self.conn.recv(65536):
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    msg = json.loads(line)
                    self.commands.put(msg["command"])
                    self.send(json.dumps({"request_id": msg["request_id"], "error": "success", "data": None}))

    def send(self, line: str) -> None:
        assert self.conn is not None
        self.conn.sendall(line.encode() + b"\n")

    def event(self, **fields: Any) -> None:
        self.send(json.dumps(fields))

    def next_event(self, kind: str, timeout: float = 10.0) -> dict[str, Any]:
        """The next ``kizunasr-event`` of this kind the worker sent."""
        while True:
            command = self.commands.get(timeout=timeout)
            if command[:2] == ["script-message", "kizunasr-event"]:
                data: dict[str, Any] = json.loads(command[2])
                if data["event"] == kind:
                    return data

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(OSError):
                self.conn.shutdown(socket.SHUT_RDWR)
            self.conn.close()
        self.server.close()


@pytest.fixture
def mpv(tmp_path: Path) -> Iterator[tuple[FakeMpv, threading.Thread, list[int]]]:
    """A fake mpv and the real worker serving it (in a thread: ``serve``'s return code lands in the list)."""
    fake = FakeMpv(tmp_path / "ipc.sock")
    profile = write_profile(tmp_path / "p.json", [], [{"shader": "kizuna_cas.glsl"}])
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(worker.serve(str(tmp_path / "ipc.sock"), str(profile),
                                                                        ai=False, show_osd=False)), daemon=True)
    thread.start()
    assert fake.connected.wait(10)
    assert fake.next_event("hello")["ai"] is False
    yield fake, thread, result
    fake.close()
    thread.join(10)


def test_malformed_ipc_messages_are_ignored(mpv: tuple[FakeMpv, threading.Thread, list[int]]) -> None:
    fake, thread, result = mpv
    video_params = 2
    assert worker.OBSERVED[video_params] == "video-params"
    for line in ["[1,2,3]", '"event"', "42", "null", "{not json",
                 json.dumps({"event": "property-change", "id": video_params, "data": {"w": "wide", "h": "abc"}}),
                 json.dumps({"event": "property-change", "id": video_params, "data": {"w": 640, "h": None}}),
                 json.dumps({"event": "property-change", "id": video_params, "data": {"w": 640.5, "h": 480}}),
                 json.dumps({"event": "property-change", "id": video_params, "data": [640, 480]}),
                 json.dumps({"event": "property-change", "id": 3, "data": {"w": "x", "h": 480}}),
                 json.dumps({"event": "property-change", "id": 4, "data": 7}),
                 json.dumps({"event": "property-change", "id": [2], "data": {}}),
                 json.dumps({"event": "client-message", "args": 5})]:
        fake.send(line)
    # still alive: a valid message after them is served, and the malformed sizes changed nothing
    fake.event(event="client-message", args=["kizunasr-status"])
    assert "source height: None" in fake.next_event("status")["text"]
    fake.event(event="property-change", id=video_params, data={"w": 640, "h": 480, "pixelformat": "yuv420p"})
    fake.event(event="client-message", args=["kizunasr-status"])  # the valid size is taken
    assert "source height: 480" in fake.next_event("status")["text"]
    assert thread.is_alive() and not result
    fake.close()  # mpv quits: the worker ends normally
    thread.join(10)
    assert result == [0]
