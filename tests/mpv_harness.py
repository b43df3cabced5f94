"""Helpers for tests/mpv/test_mpv_bridge.py: clips made with ffmpeg, and mpv running
``mpv_scripts/kizunasr.lua`` under Xvfb, driven over its JSON IPC socket.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kizunasr_vs.mpv.protocol import MpvIpc
from tests.glsl_helpers import REPO

LUA = REPO / "mpv_scripts" / "kizunasr.lua"
WORKER_COMMAND = f"{sys.executable} -m kizunasr_vs.cli.worker"
WINDOW = (640, 360)
Event = dict[str, Any]


def skip_reason() -> str | None:
    """None if mpv, Xvfb and ffmpeg are there, else why the tests must skip."""
    for tool in ("mpv", "Xvfb", "ffmpeg"):
        if shutil.which(tool) is None:
            return f"{tool} not installed"
    return None


@functools.cache
def lavapipe_vulkan() -> tuple[str, ...] | None:
    """mpv options for ``vo=gpu`` on Vulkan lavapipe, or None when mpv lists no llvmpipe Vulkan device (Debian:
    mesa-vulkan-drivers). mpv 0.35's libplacebo passes over a software device unless it is named."""
    try:
        listed = subprocess.run(["mpv", "--no-config", "--vo=gpu", "--gpu-api=vulkan", "--vulkan-device=help"],
                                capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    device = re.search(r"'(llvmpipe[^']*)'", listed)
    return ("--gpu-api=vulkan", "--gpu-context=x11vk", f"--vulkan-device={device[1]}") if device else None


def make_clip(path: Path, width: int, height: int, seconds: float = 10, fps: int = 5) -> Path:
    """A short all-intra H.264 testsrc2 clip (low fps so lavapipe keeps up)."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc2=size={width}x{height}:rate={fps}", "-t", str(seconds), "-c:v", "libx264",
                    "-preset", "ultrafast", "-g", "1", "-pix_fmt", "yuv420p", str(path)], check=True, timeout=60)
    return path


class Mpv:
    """mpv with the KizunaSR script; ``ipc`` is the test's own JSON IPC connection."""

    def __init__(self, display: str, media: Path, workdir: Path, script_opts: dict[str, str],
                 extra: Sequence[str] = (), env: dict[str, str] | None = None, config_dir: Path | None = None) -> None:
        """The script from the repository (shaders and profiles from glsl/ and profiles/), or with ``config_dir``
        the one `kizunasr install-mpv` put there, with its defaults (~~/shaders/kizunasr ...)."""
        self.workdir = workdir
        self.sockdir = Path(tempfile.mkdtemp(prefix="kzmpv"))  # short path: AF_UNIX limit
        self.socket = str(self.sockdir / "ipc.sock")
        self.log = workdir / "mpv.log"
        self.stderr = workdir / "mpv.stderr"
        repo = {"shader_dir": str(REPO / "glsl"), "profiles_dir": str(REPO / "profiles")} if config_dir is None else {}
        opts = {"worker_command": WORKER_COMMAND, **repo, **script_opts}
        config = ([f"--config-dir={config_dir}"] if config_dir else
                  ["--no-config", f"--script={LUA}", f"--input-conf={REPO / 'mpv_scripts' / 'input.conf'}"])
        cmd = ["mpv", *config, "--vo=gpu", "--gpu-sw=yes", "--no-audio", "--keep-open=always",
               "--loop-file=inf", "--force-window=yes", f"--geometry={WINDOW[0]}x{WINDOW[1]}+0+0",
               "--no-keepaspect-window", "--hwdec=no", f"--input-ipc-server={self.socket}",
               f"--log-file={self.log}", "--screenshot-png-compression=1", "--osd-bar=no"]
        cmd += [f"--script-opts-append=kizunasr-{k}={v}" for k, v in opts.items()]
        cmd += ["--idle=yes", *extra]  # the file comes once our IPC connection is up (below)
        full_env = dict(os.environ, DISPLAY=display, LIBGL_ALWAYS_SOFTWARE="1", KIZUNASR_WORKER_LOG="1",
                        XDG_RUNTIME_DIR=str(self.sockdir), **(env or {}))
        self.err = open(self.stderr, "wb")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(cmd, env=full_env, stdout=self.err, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while True:
            try:
                self.ipc = MpvIpc(self.socket)
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"mpv did not open its IPC socket:\n{self.stderr.read_text()}") from None
                time.sleep(0.1)
        self.seen: list[Event] = []
        # loaded only now: the script's first events (the chain it sets when the video's size is known) go out
        # to every connected client, and a connection made after them would never see them
        self.ipc.send(["loadfile", str(media)])

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ipc.send(["quit"], wait=False)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.ipc.close()
        self.err.close()
        shutil.rmtree(self.sockdir, ignore_errors=True)

    # -- worker status events ------------------------------------------------------------------

    def _drain(self, timeout: float) -> Event | None:
        import queue

        try:
            ev = self.ipc.events.get(timeout=timeout)
        except queue.Empty:
            return None
        if ev and ev.get("event") == "client-message" and ev.get("args", [None])[0] == "kizunasr-event":
            data = json.loads(ev["args"][1])
            self.seen.append(data)
            return data
        return None

    def wait_event(self, kind: str, timeout: float = 20, where: Callable[[Event], bool] = lambda e: True,
                   since: int = 0) -> Event:
        """The first worker event of ``kind`` (in ``seen[since:]`` or still to come) matching ``where``."""
        deadline = time.monotonic() + timeout
        checked = since
        while True:
            for ev in self.seen[checked:]:
                if ev["event"] == kind and where(ev):
                    return ev
            checked = len(self.seen)
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no worker event '{kind}' within {timeout} s; seen: {self.seen}\n"
                                     f"mpv log tail:\n{self.log_text()[-3000:]}")
            self._drain(min(left, 0.2))

    def events(self, kind: str) -> list[Event]:
        while self._drain(0.05) is not None:
            pass
        return [e for e in self.seen if e["event"] == kind]

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def screenshot(self, name: str, mode: str = "window") -> np.ndarray:
        """``screenshot-to-file`` as an RGB uint8 array."""
        from kizunasr_vs.mpv.pause_job import load_rgb

        path = self.workdir / f"{name}.png"
        self.ipc.send(["screenshot-to-file", str(path), mode])
        return load_rgb(path)

    def wait_property(self, name: str, pred: Callable[[Any], bool], timeout: float = 20) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = self.ipc.get(name)
            if pred(value):
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"property {name} = {value!r} after {timeout} s")
            time.sleep(0.1)


def bgra_to_rgb(path: Path, w: int, h: int) -> np.ndarray:
    """A worker overlay file (BGRA rows) as RGB uint8."""
    data = np.frombuffer(path.read_bytes(), np.uint8).reshape(h, w, 4)
    return data[..., 2::-1].copy()


def write_profile(path: Path, pause: list[dict[str, Any]], realtime: list[dict[str, Any]] | None = None) -> Path:
    """A one-range test profile (schema: profiles/schema.json)."""
    realtime = realtime or []
    profile = {"name": path.stem, "description": "test profile", "requires": {"gpu": False, "backends": ["onnx"]},
               "ranges": [{"max_height": None, "realtime": realtime, "pause": pause, "encode": pause}]}
    path.write_text(json.dumps(profile))
    return path
