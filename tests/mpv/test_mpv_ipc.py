"""The mpv worker's IPC robustness: the real protocol client and worker against a socket server that speaks
mpv's JSON IPC (replies to every command) and also sends malformed lines. No mpv needed."""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from kizunasr_vs.mpv import protocol, worker
from tests.mpv_harness import write_profile


class FakeMpv:
    """A Unix socket server standing in for mpv: answers each command with success, records the commands."""

    def __init__(self, path: Path, frame: np.ndarray | None = None) -> None:
        """``frame``: the picture ``screenshot-to-file`` writes (H x W x 3 uint8 RGB)."""
        self.frame = frame
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
                    if isinstance(msg["command"], list) and msg["command"][0] == "screenshot-to-file" \
                            and self.frame is not None:
                        Image.fromarray(self.frame).save(msg["command"][1])
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
            if isinstance(command, list) and command[:2] == ["script-message", "kizunasr-event"]:
                data: dict[str, Any] = json.loads(command[2])
                if data["event"] == kind:
                    return data

    def until(self, kind: str, timeout: float = 10.0) -> tuple[list[dict[str, Any]], list[list[Any]]]:
        """The worker's events up to and including the next one of this kind, and every command seen meanwhile."""
        events, commands = [], []
        while True:
            command = self.commands.get(timeout=timeout)
            commands.append(command)
            if isinstance(command, list) and command[:2] == ["script-message", "kizunasr-event"]:
                events.append(json.loads(command[2]))
                if events[-1]["event"] == kind:
                    return events, commands

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(OSError):
                self.conn.shutdown(socket.SHUT_RDWR)
            self.conn.close()
        self.server.close()


Served = tuple[FakeMpv, threading.Thread, list[int]]


@contextlib.contextmanager
def serving(tmp_path: Path, show_osd: bool = False, worker_class: type[worker.Worker] = worker.Worker,
            profile: str | None = None, frame: np.ndarray | None = None) -> Iterator[Served]:
    """A fake mpv and the real worker serving it (in a thread: the worker's return code lands in the list); AI
    stills are on when a ``frame`` is given for the screenshots."""
    sockets = Path(tempfile.mkdtemp(prefix="kzipc"))  # a short path: AF_UNIX limits its length
    fake = FakeMpv(sockets / "ipc.sock", frame)
    profile = profile or str(write_profile(tmp_path / "p.json", [], [{"shader": "kizuna_cas.glsl"}]))
    result: list[int] = []
    ai = frame is not None

    def serve() -> None:
        ipc = protocol.MpvIpc(str(sockets / "ipc.sock"))
        try:
            result.append(worker_class(ipc, profile, ai=ai, debounce_ms=50, show_osd=show_osd).run())
        finally:
            ipc.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        assert fake.connected.wait(10)
        assert fake.next_event("hello")["ai"] is ai
        yield fake, thread, result
    finally:
        fake.close()
        thread.join(10)
        shutil.rmtree(sockets, ignore_errors=True)


@pytest.fixture
def mpv(tmp_path: Path) -> Iterator[Served]:
    with serving(tmp_path) as served:
        yield served


def still_serving(fake: FakeMpv, thread: threading.Thread, result: list[int]) -> None:
    """The worker answers a status request, and has not ended."""
    fake.event(event="client-message", args=["kizunasr-status"])
    assert "KizunaSR profile" in fake.next_event("status")["text"]
    assert thread.is_alive() and not result


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


def nested(value: Any, depth: int) -> Any:
    for _ in range(depth):
        value = [value]
    return value


def test_deeply_nested_line_is_dropped(mpv: Served, caplog: pytest.LogCaptureFixture) -> None:
    fake, thread, result = mpv
    with caplog.at_level(logging.WARNING, logger="kizunasr.mpv"):
        fake.send("[" * 200_000)  # RecursionError in json.loads
        fake.send("[" * 1000 + "]" * 1000)  # nests far deeper than any mpv message
        fake.event(event="client-message", args=["kizunasr-clear", nested("x", protocol.MAX_DEPTH)])  # one too deep
        still_serving(*mpv)
    assert sum("nested deeper than" in r.getMessage() for r in caplog.records) == 3
    fake.event(event="client-message", args=["kizunasr-status"])
    assert "(cleared)" not in fake.next_event("status")["text"]  # the too-deep clear was not acted on
    fake.close()
    thread.join(10)
    assert result == [0]


def test_over_long_line_is_dropped_not_served(mpv: Served, caplog: pytest.LogCaptureFixture) -> None:
    """A 32 MB clear request is over the line limit: dropped with a log line; the lines after it are served."""
    fake, _, _ = mpv
    line = json.dumps({"event": "client-message", "args": ["kizunasr-clear", "x" * (32 << 20)]})
    with caplog.at_level(logging.WARNING, logger="kizunasr.mpv"):
        fake.send(line)
        still_serving(*mpv)
    assert f"mpv IPC: dropped a line of {len(line)} bytes (the limit is {protocol.MAX_LINE})" in \
        [r.getMessage() for r in caplog.records]
    fake.event(event="client-message", args=["kizunasr-status"])
    assert "(cleared)" not in fake.next_event("status")["text"]  # the long line was never acted on
    fake.event(event="client-message", args=["kizunasr-clear", "x" * 1000])
    fake.event(event="client-message", args=["kizunasr-status"])
    assert "(cleared)" in fake.next_event("status")["text"]  # the same request, short, is


def test_line_splitter_holds_at_most_the_limit() -> None:
    """Lines come out whole and in order; an over-long line is dropped as it arrives, never held whole."""
    splitter = protocol.LineSplitter(limit=1000)
    held, out = [], []
    chunks = [b"first\nsec", b"ond\n", b"y" * 700, b"y" * 700, b"y" * 700, b"\nthird", b"\n\n", b"z" * 1000, b"\n"]
    for chunk in chunks:
        out += list(splitter.feed(chunk))
        held.append(splitter.size)
    assert out == [b"first", b"second", b"third", b"z" * 1000]
    assert max(held) <= 1000


def test_deeply_nested_profile_is_an_osd_error(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    latin = tmp_path / "latin.json"
    latin.write_bytes(json.dumps({"name": "Zoé"}, ensure_ascii=False).encode("latin-1"))
    with serving(tmp_path, show_osd=True) as (fake, thread, result):
        for path, words in ((deep, "nested deeper than"), (latin, "not UTF-8")):
            fake.event(event="client-message", args=["kizunasr-profile", str(path)])
            osd = fake.next_event("osd")["text"]
            assert str(path) in osd and words in osd and "\n" not in osd
            assert words in fake.next_event("error")["message"]
        still_serving(fake, thread, result)


class FailingWorker(worker.Worker):
    """The real worker with a handler that fails on one message, as a bug would."""

    def on_message(self, args: list[str]) -> None:
        if args[:1] == ["boom"]:
            raise RuntimeError("a bug in a handler")
        super().on_message(args)


def test_an_error_in_a_handler_is_logged_and_survived(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="kizunasr.worker"), \
            serving(tmp_path, worker_class=FailingWorker) as (fake, thread, result):
        fake.event(event="client-message", args=["boom"])
        still_serving(fake, thread, result)
    failed = [r for r in caplog.records if "error while handling" in r.getMessage()]
    assert len(failed) == 1 and failed[0].exc_info and "a bug in a handler" in str(failed[0].exc_info[1])


def picture(width: int, height: int) -> np.ndarray:
    """The built-in sample's first frame (line art, flat areas, gradients) as RGB uint8."""
    from kizunasr_vs.core.sample import draw_frame

    return np.round(draw_frame(0, width, height) * 255).astype(np.uint8).transpose(1, 2, 0).copy()


def pause_at(fake: FakeMpv, width: int, height: int, paused: bool = True) -> None:
    """mpv's properties for a paused ``width`` x ``height`` video shown at twice its size."""
    fake.event(event="property-change", id=2, data={"w": width, "h": height})
    fake.event(event="property-change", id=3, data={"w": 2 * width, "h": 2 * height, "ml": 0, "mt": 0, "mr": 0,
                                                    "mb": 0})
    fake.event(event="property-change", id=1, data=paused)


def test_pause_chain_equal_to_the_realtime_chain_computes_nothing(tmp_path: Path) -> None:
    from kizunasr_vs.profiles import load_profile

    realtime = load_profile("performance").for_height(48).realtime
    same = write_profile(tmp_path / "same.json", realtime, realtime)
    with serving(tmp_path, show_osd=True, profile=str(same), frame=picture(64, 48)) as (fake, thread, result):
        said = "KizunaSR: no AI still with this profile (its pause chain is the chain already playing)"
        for _ in range(2):  # pause, resume, pause: the OSD says it once
            pause_at(fake, 64, 48)
            events, commands = fake.until("skipped")
            assert events[-1]["reason"] == "no AI still: its pause chain is the chain already playing"
            assert not [e for e in events if e["event"] in ("job-start", "overlay", "error")]
            assert not [c for c in commands if isinstance(c, dict) or c[0] == "screenshot-to-file"]
            assert [e["text"] for e in events if e["event"] == "osd"] == ([said] if _ == 0 else [])
            fake.event(event="property-change", id=1, data=False)
        fake.event(event="client-message", args=["kizunasr-status"])
        assert "pause: no AI still (its pause chain is the chain already playing)" in fake.next_event("status")["text"]
        assert thread.is_alive() and not result


def test_heavier_pause_chain_shows_the_still(tmp_path: Path) -> None:
    """The shipped performance profile: its pause chain is heavier than what plays, so pausing shows a still of
    the grabbed frame fitted to the video rect."""
    from kizunasr_vs.profiles import load_profile

    chains = load_profile("performance").for_height(48)
    assert chains.pause != chains.realtime
    frame = picture(64, 48)
    with serving(tmp_path, show_osd=True, profile="performance", frame=frame) as (fake, _, _):
        pause_at(fake, 64, 48)
        events, commands = fake.until("overlay", timeout=300)
        label = " + ".join(Path(s["shader"]).stem for s in chains.pause)
        assert f"KizunaSR AI still: computing... ({label})" in [e["text"] for e in events if e["event"] == "osd"]
        assert events[-1]["chain"] == label and events[-1]["rect"] == [0, 0, 128, 96]
        add = next(c for c in commands if isinstance(c, dict) and c.get("name") == "overlay-add")
        assert (add["w"], add["h"], add["fmt"]) == (128, 96, "bgra")
        shown = np.frombuffer(Path(add["file"]).read_bytes(), np.uint8).reshape(96, 128, 4)[..., 2::-1]
    bicubic = np.asarray(Image.fromarray(frame).resize((128, 96), Image.BICUBIC)).astype(float)
    mse = float(np.mean((shown.astype(float) - bicubic) ** 2))
    assert 10 * np.log10(255**2 / mse) > 20  # the grabbed picture, upscaled (not blank, not another frame)
