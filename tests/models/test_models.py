"""The model manager: registry, store, resumable verified downloads from a real local HTTP server, and the CLI."""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import pytest

from kizunasr_vs.cli.main import main
from kizunasr_vs.models import download, registry, store
from kizunasr_vs.models.errors import (
    ChecksumError,
    DownloadError,
    InvalidModelError,
    ModelMissingError,
    RegistryError,
    UnknownModelError,
)
from tests.conftest import REPO, shared_dir

SHARED_MODELS = shared_dir() / "models"
SUC = "2x_AnimeJaNai_HD_V3_SuperUltraCompact-fp32.onnx"
SUC_NAME = "animejanai-hd-v3-superultracompact"
PINNED = {"70297aaba73b56d96c800c0c472ba54825cb3574": 4, "9d1a721206400667999af7146ac82771e0d3922d": 2}

needs_shared = pytest.mark.skipif(not (SHARED_MODELS / SUC).is_file(),
                                  reason=f"shared models not found in {SHARED_MODELS} (set KIZUNASR_SHARED)")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets an empty models directory and an empty user config."""
    monkeypatch.setenv("KIZUNASR_MODELS_DIR", str(tmp_path / "store"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "store"


# --- the local HTTP server ---------------------------------------------------------------------------------


class Server:
    """Settings and request log shared with the handler threads."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ranges = True  # honour Range requests with 206
        self.cuts = 0  # the next `cuts` responses send half the body, then close the connection
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        self.url = ""


class Handler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer

    def log_message(self, format: str, *args: object) -> None:  # silence the request log
        pass

    def do_GET(self) -> None:
        state: Server = self.server.state  # type: ignore[attr-defined]
        rng = self.headers.get("Range")
        state.requests.append((self.path, rng))
        path = state.root / unquote(self.path.lstrip("/"))
        if not path.is_file() or path.parent != state.root:
            self.send_error(404)
            return
        data = path.read_bytes()
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", rng or "")
        if state.ranges and match:
            start = int(match.group(1))
            if start >= len(data):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
            if state.ranges:
                self.send_header("Accept-Ranges", "bytes")
        body = data[start:]
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if state.cuts > 0:
            state.cuts -= 1
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[Server]:
    if not SHARED_MODELS.is_dir():
        pytest.skip(f"shared models not found in {SHARED_MODELS} (set KIZUNASR_SHARED)")
    state = Server(SHARED_MODELS)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.state = state  # type: ignore[attr-defined]
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


def local_entry(server: Server, **changes: object) -> registry.ModelEntry:
    """The built-in SuperUltraCompact entry, downloaded from the local server instead."""
    entry = registry.get_entry(SUC_NAME)
    return replace(entry, url=f"{server.url}/{SUC}", **changes)  # type: ignore[arg-type]


def leftovers(directory: Path) -> list[str]:
    """The files in ``directory``."""
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


# --- downloads ---------------------------------------------------------------------------------------------


@needs_shared
def test_download_good(server: Server, isolated: Path) -> None:
    path = download.fetch(local_entry(server), progress=False, backoff=0)
    assert path == isolated / SUC
    assert sha256(path) == sha256(SHARED_MODELS / SUC)
    assert leftovers(isolated) == [SUC]
    assert store.verify(SUC_NAME)
    assert store.model_path(SUC_NAME) == path
    assert server.requests == [(f"/{SUC}", None)]
    # installed and intact: a second fetch makes no request
    assert download.fetch(local_entry(server), progress=False) == path
    assert len(server.requests) == 1


@needs_shared
def test_download_wrong_hash_keeps_nothing(server: Server, isolated: Path) -> None:
    entry = local_entry(server, sha256="0" * 64)
    with pytest.raises(ChecksumError) as err:
        download.fetch(entry, progress=False, backoff=0)
    msg = str(err.value)
    assert "0" * 64 in msg and sha256(SHARED_MODELS / SUC) in msg and "nothing was kept" in msg
    assert leftovers(isolated) == []
    assert len(server.requests) == 1  # a checksum failure is not retried


@needs_shared
def test_download_resumes_after_cut(server: Server, isolated: Path) -> None:
    size = (SHARED_MODELS / SUC).stat().st_size
    server.cuts = 1
    path = download.fetch(local_entry(server), progress=False, backoff=0)
    assert sha256(path) == sha256(SHARED_MODELS / SUC)
    assert server.requests == [(f"/{SUC}", None), (f"/{SUC}", f"bytes={size // 2}-")]
    assert leftovers(isolated) == [SUC]


@needs_shared
def test_download_restarts_without_range_support(server: Server, isolated: Path) -> None:
    server.ranges = False
    server.cuts = 1
    path = download.fetch(local_entry(server), progress=False, backoff=0)
    assert sha256(path) == sha256(SHARED_MODELS / SUC)
    size = (SHARED_MODELS / SUC).stat().st_size
    # the client asked to resume, the server sent the whole file (200), the client started over
    assert server.requests == [(f"/{SUC}", None), (f"/{SUC}", f"bytes={size // 2}-")]
    assert leftovers(isolated) == [SUC]


@needs_shared
def test_stale_partial_file_is_replaced(server: Server, isolated: Path) -> None:
    isolated.mkdir(parents=True)
    (isolated / f"{SUC}.part").write_bytes(b"garbage" * 100)
    path = download.fetch(local_entry(server), progress=False, backoff=0)
    assert sha256(path) == sha256(SHARED_MODELS / SUC)
    assert server.requests == [(f"/{SUC}", "bytes=700-"), (f"/{SUC}", None)]
    assert leftovers(isolated) == [SUC]


@needs_shared
def test_download_gives_up_and_keeps_partial_for_resume(server: Server, isolated: Path) -> None:
    server.cuts = 3
    with pytest.raises(DownloadError, match="after 3 attempts.*run the fetch again to resume"):
        download.fetch(local_entry(server), progress=False, retries=2, backoff=0)
    assert leftovers(isolated) == [f"{SUC}.part"]
    path = download.fetch(local_entry(server), progress=False, backoff=0)  # resumes the kept part
    assert sha256(path) == sha256(SHARED_MODELS / SUC)
    assert server.requests[-1][1] is not None


@needs_shared
def test_http_404_is_not_retried(server: Server, isolated: Path) -> None:
    entry = replace(local_entry(server), url=f"{server.url}/nope.onnx")
    with pytest.raises(DownloadError, match="HTTP 404"):
        download.fetch(entry, progress=False, backoff=0)
    assert len(server.requests) == 1
    assert leftovers(isolated) == []


def test_connection_refused_is_retried(isolated: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    entry = registry.ModelEntry(name="x", file="x.onnx", sha256="0" * 64, url=f"http://127.0.0.1:{port}/x.onnx")
    with pytest.raises(DownloadError, match="after 3 attempts"):
        download.fetch(entry, progress=False, retries=2, backoff=0, timeout=5)


# --- store -------------------------------------------------------------------------------------------------


def test_missing_model_names_the_fetch_command() -> None:
    with pytest.raises(ModelMissingError) as err:
        store.model_path("animejanai-hd-v3-compact")
    assert "kizunasr models fetch animejanai-hd-v3-compact" in str(err.value)
    assert not store.verify("animejanai-hd-v3-compact")
    with pytest.raises(UnknownModelError, match="unknown model 'no-such-model'.*kizunasr models list"):
        store.model_path("no-such-model")


def test_models_dir_defaults_to_user_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KIZUNASR_MODELS_DIR")
    assert store.models_dir() == tmp_path / "cache" / "kizunasr" / "models"


@needs_shared
def test_import_known_file_by_hash(isolated: Path) -> None:
    entry = store.import_file(SHARED_MODELS / SUC)
    assert entry.name == SUC_NAME and entry.source == "builtin"
    assert store.model_path(SUC_NAME) == isolated / SUC
    assert store.verify(SUC_NAME)
    assert not registry.user_config_path().exists()  # a built-in needs no user entry
    assert leftovers(isolated) == [SUC]


@needs_shared
def test_damaged_model_is_refused_on_load(isolated: Path) -> None:
    isolated.mkdir()
    copy = isolated / SUC
    copy.write_bytes((SHARED_MODELS / SUC).read_bytes())
    assert store.model_path(SUC_NAME) == copy  # intact: used
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit in the weights
    copy.write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match=f"replace it with: kizunasr models fetch --force {SUC_NAME}$"):
        store.model_path(SUC_NAME)
    import vapoursynth as vs

    from kizunasr_vs.profiles.upscale import upscale

    profile = {"name": "one-model", "description": "test", "requires": {"gpu": False},
               "ranges": [{"max_height": None, "realtime": [], "pause": [], "encode": [{"model": SUC_NAME}]}]}
    path = isolated.parent / "profile.json"
    path.write_text(json.dumps(profile))
    clip = vs.core.std.BlankClip(format=vs.RGBS, width=32, height=32, length=1)
    with pytest.raises(vs.Error, match=f"damaged or changed.*models fetch --force {SUC_NAME}"):
        upscale(clip, path, backend="cpu")


def flipped(source: Path, dest: Path) -> Path:
    """A copy of ``source`` at ``dest`` with one bit of its weights flipped."""
    data = bytearray(source.read_bytes())
    data[len(data) // 2] ^= 0x04
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(bytes(data))
    return dest


@needs_shared
def test_flipped_bit_in_a_copy_named_by_its_file_name_is_refused(isolated: Path, tmp_path: Path) -> None:
    """A registered model's file is checked whether it is named by registry name, by file name in the models
    folder (with or without .onnx), or by a path to a copy of it elsewhere."""
    copy = flipped(SHARED_MODELS / SUC, tmp_path / "elsewhere" / SUC)
    with pytest.raises(ChecksumError) as err:
        store.find_model(copy)
    msg = str(err.value)
    assert msg.startswith(f"{copy} has the file name of model {SUC_NAME!r} but is damaged or changed")
    assert sha256(SHARED_MODELS / SUC) in msg and f"--model {SUC_NAME}" in msg
    flipped(SHARED_MODELS / SUC, isolated / SUC)
    for name in (SUC, SUC.removesuffix(".onnx"), SUC_NAME):
        with pytest.raises(ChecksumError, match=f"damaged or changed.*models fetch --force {SUC_NAME}$"):
            store.find_model(name)
    intact = tmp_path / "intact" / SUC
    intact.parent.mkdir()
    intact.write_bytes((SHARED_MODELS / SUC).read_bytes())
    assert store.find_model(intact) == intact
    own = tmp_path / "mine.onnx"  # not a registered model's file name: the user's own model, not checked
    own.write_bytes(b"anything")
    assert store.find_model(own) == own


@needs_shared
def test_cli_model_by_path_with_a_flipped_bit_exits_2(tmp_path: Path) -> None:
    import subprocess
    import sys

    copy = flipped(SHARED_MODELS / SUC, tmp_path / SUC)
    result = subprocess.run([sys.executable, "-m", "kizunasr_vs", "upscale", "--model", str(copy), "--end", "1"],
                            capture_output=True, text=True, cwd=tmp_path, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 2, result.stderr
    assert f"{copy} has the file name of model {SUC_NAME!r} but is damaged or changed" in result.stderr
    assert not (tmp_path / "out").exists()


@needs_shared
def test_bit_rot_with_size_and_mtime_restored_is_caught(isolated: Path) -> None:
    copy = isolated / SUC
    isolated.mkdir()
    copy.write_bytes((SHARED_MODELS / SUC).read_bytes())
    assert store.model_path(SUC_NAME) == copy
    before = copy.stat()
    with open(copy, "r+b") as f:  # one bit flipped in place: same size
        f.seek(before.st_size // 2)
        byte = f.read(1)[0]
        f.seek(before.st_size // 2)
        f.write(bytes([byte ^ 0x01]))
    os.utime(copy, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (copy.stat().st_size, copy.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    with pytest.raises(ChecksumError, match="damaged or changed"):
        store.model_path(SUC_NAME)
    with pytest.raises(ChecksumError, match="damaged or changed"):
        store.find_model(SUC)


@needs_shared
def test_read_only_models_folder_gets_no_new_file(isolated: Path) -> None:
    isolated.mkdir()
    (isolated / SUC).write_bytes((SHARED_MODELS / SUC).read_bytes())
    isolated.chmod(0o555)  # (root may write there all the same: the code must not try)
    try:
        assert store.model_path(SUC_NAME) == isolated / SUC
        assert store.find_model(SUC) == isolated / SUC
        assert cli("verify") == 0
        assert leftovers(isolated) == [SUC]
    finally:
        isolated.chmod(0o755)


def offline_entry() -> dict[str, object]:
    """A user entry whose host cannot resolve (.invalid is reserved for that: RFC 2606)."""
    return {"name": "offline", "url": "https://kizunasr-test.invalid/offline.onnx", "sha256": "a" * 64}


def test_fetch_of_a_host_that_does_not_resolve_fails_at_once(caplog: pytest.LogCaptureFixture,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    entry = registry.entry_from_dict(offline_entry(), source="user")
    with pytest.raises(DownloadError) as err:
        download.fetch(entry, progress=False, retries=3, backoff=0)
    msg = str(err.value)
    assert "kizunasr-test.invalid does not resolve" in msg
    assert "kizunasr models import FILE" in msg and "$KIZUNASR_MODELS_DIR" in msg
    assert not [r for r in caplog.records if "retry" in r.getMessage()]  # not retried
    write_config({"models": [offline_entry()]})
    assert cli("fetch", "--no-progress", "offline") == 2
    err_text = capsys.readouterr().err
    assert err_text.count("\n") == 1 and "kizunasr models import FILE" in err_text


def test_a_typo_suggests_the_close_names_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A typo gets the names it is close to and where the whole list is, not every entry of the user's
    models.json (such as a test model imported once)."""
    leftover = tmp_path / "nan_dark.onnx"
    leftover.write_bytes(b"abc")
    write_config({"models": [{"name": "nan_dark", "path": str(leftover)}]})
    assert cli("fetch", "animejanai-hd-v3-compat") == 2
    err = capsys.readouterr().err
    assert "did you mean 'animejanai-hd-v3-compact'" in err and "kizunasr models list" in err
    assert "nan_dark" not in err and err.count("\n") == 1
    with pytest.raises(UnknownModelError) as unknown:
        store.model_path("animejanai-hd-v3-compat")
    assert "did you mean 'animejanai-hd-v3-compact'" in str(unknown.value) and "nan_dark" not in str(unknown.value)


def tiny_model(scale: float = 2.0) -> bytes:
    """A real ONNX image model: nearest-neighbour Resize by ``scale`` of a [1, 3, H, W] float input."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    scales = numpy_helper.from_array(np.array([1, 1, scale, scale], np.float32), "s")
    graph = helper.make_graph([helper.make_node("Resize", ["x", "", "s"], ["y"], mode="nearest")], "tiny",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, "h", "w"])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 3, "oh", "ow"])], [scales])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def test_import_unknown_file_registers_user_entry(tmp_path: Path, isolated: Path) -> None:
    src = tmp_path / "My Model.onnx"
    src.write_bytes(tiny_model())
    entry = store.import_file(src, name="mine")
    assert entry.sha256 == sha256(src)
    assert store.model_path("mine") == isolated / "mine.onnx"
    assert store.verify("mine")
    reloaded = registry.load_registry()["mine"]
    assert reloaded.source == "user" and reloaded.sha256 == entry.sha256
    # the same content without --name is recognised by its hash; new content is named after the file
    assert store.import_file(src).name == "mine"
    src.write_bytes(tiny_model(4.0))
    assert store.import_file(src).name == "my-model"
    # a changed file under a built-in name is refused, nothing kept
    with pytest.raises(ChecksumError, match="nothing was kept"):
        store.import_file(src, name=SUC_NAME)
    assert not (isolated / SUC).exists()


@pytest.mark.parametrize(("content", "fault"), [
    (b"hello", "not valid ONNX"),  # a 5-byte text file
    (tiny_model()[:-7], "not valid ONNX"),  # truncated
    (tiny_model(1.5), "the scale must be one integer"),  # parses and runs, but 16x16 gives 24x24
])
def test_import_refuses_what_is_not_a_runnable_model(content: bytes, fault: str, tmp_path: Path, isolated: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "model.onnx"
    src.write_bytes(content)
    with pytest.raises(InvalidModelError, match=f"{re.escape(str(src))} is not a usable ONNX model: .*{fault}"):
        store.import_file(src, name="mine")
    assert cli("import", str(src)) == 2
    err = capsys.readouterr().err
    assert err.startswith("kizunasr models: ") and err.count("\n") == 1 and "nothing was imported" in err
    assert leftovers(isolated) == [] and not registry.user_config_path().exists()


# --- registry ----------------------------------------------------------------------------------------------


def readme_hashes() -> dict[str, str]:
    readme = SHARED_MODELS / "README.md"
    if not readme.is_file():
        pytest.skip(f"{readme} not found (set KIZUNASR_SHARED)")
    rows = re.findall(r"^\| (\S+\.onnx) \|.*\| ([0-9a-f]{64}) \|$", readme.read_text(), re.MULTILINE)
    return dict(rows)


def test_builtin_entries_match_readme_and_shared_files() -> None:
    expected = readme_hashes()
    entries = registry.builtin_entries()
    assert len(entries) == 6 and len(expected) == 6
    assert {e.file for e in entries} == set(expected)
    commits: dict[str, int] = {}
    for e in entries:
        assert e.sha256 == expected[e.file], e.name
        shared = SHARED_MODELS / e.file
        assert hashlib.sha256(shared.read_bytes()).hexdigest() == e.sha256, e.name
        assert shared.stat().st_size == e.size, e.name
        assert e.url is not None and e.url.endswith(f"/animejanai/onnx/{e.file}")
        commit = e.url.split("/")[5]
        commits[commit] = commits.get(commit, 0) + 1
        assert e.scale == 2 and e.channels == 3 and e.license == "CC-BY-NC-SA-4.0"
        assert e.dtype == ("float16" if "fp16" in e.file else "float32")
        assert e.suits == ((0, 576) if "_SD_" in e.file else (577, 1080))
    assert commits == PINNED
    assert [e.name for e in registry.suited(480)] == ["animejanai-sd-v1beta34-compact"]


def write_config(entries: object) -> Path:
    path = registry.user_config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(entries if isinstance(entries, str) else json.dumps(entries))
    return path


def test_user_entries_merge(tmp_path: Path) -> None:
    local = tmp_path / "local.onnx"
    local.write_bytes(b"abc")
    write_config({"models": [
        {"name": "remote", "url": "https://example.invalid/r.onnx", "sha256": "a" * 64, "scale": 4},
        {"name": "local", "path": str(local)},
    ]})
    reg = registry.load_registry()
    assert SUC_NAME in reg
    assert reg["remote"].file == "r.onnx" and reg["remote"].scale == 4 and reg["remote"].source == "user"
    assert reg["local"].sha256 == hashlib.sha256(b"abc").hexdigest()  # computed from the file
    assert store.model_path("local") == local  # used in place until imported


@pytest.mark.parametrize(("content", "fault"), [
    ("{not json", "invalid JSON"),
    ({"models": [{"name": "x", "url": "https://e.invalid/x.onnx"}]}, "'sha256' is required"),
    ({"models": [{"name": "x", "url": "https://e.invalid/x.onnx", "sha256": "xyz"}]}, "64 hex digits"),
    ({"models": [{"name": "x", "path": "/nonexistent/x.onnx"}]}, "is not a file"),
    ({"models": [{"name": "x", "url": "ftp://e/x", "sha256": "a" * 64}]}, "must be http"),
    ({"models": [{"name": "x", "url": "https://e/x", "sha256": "a" * 64, "file": "../x"}]}, "plain file name"),
    ({"models": [{"name": "x", "url": "https://e/x", "sha256": "a" * 64, "colour": 1}]}, "unknown field"),
    ({"models": 3}, "expected"),
])
def test_bad_user_config_names_file_and_fault(content: object, fault: str) -> None:
    path = write_config(content)
    with pytest.raises(RegistryError) as err:
        registry.load_registry()
    assert str(path) in str(err.value) and fault in str(err.value)


# --- CLI ---------------------------------------------------------------------------------------------------


def cli(*argv: str) -> int:
    """`kizunasr models ...` as the command line runs it (errors reported by cli/main.py: exit status 2)."""
    return main(["models", *argv])


def test_cli_list_and_path(capsys: pytest.CaptureFixture[str], isolated: Path) -> None:
    assert cli("list") == 0
    out = capsys.readouterr().out
    assert SUC_NAME in out and "missing" in out and "CC-BY-NC-SA-4.0" in out and "577-1080p" in out
    assert cli("path", SUC_NAME) == 2
    assert f"kizunasr models fetch {SUC_NAME}" in capsys.readouterr().err
    assert cli("path", "nope") == 2
    assert "kizunasr models list" in capsys.readouterr().err  # where the known names are
    assert cli("verify", "nope") == 2
    assert cli("fetch", "nope", SUC_NAME) == 2


@needs_shared
def test_cli_import_verify_path(capsys: pytest.CaptureFixture[str], isolated: Path, tmp_path: Path) -> None:
    assert cli("verify") == 0  # nothing installed, nothing wrong
    assert cli("verify", SUC_NAME) == 2
    assert cli("import", str(SHARED_MODELS / SUC)) == 0
    assert cli("verify") == 0 and cli("verify", SUC_NAME) == 0
    capsys.readouterr()
    assert cli("path", SUC_NAME) == 0
    assert capsys.readouterr().out.strip() == str(isolated / SUC)
    assert cli("list") == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith(SUC_NAME))
    assert "missing" not in line and ("✓" in line or " yes " in line)  # the mark depends on the encoding
    (isolated / SUC).write_bytes(b"corrupt")
    assert cli("verify", SUC_NAME) == 2
    assert f"kizunasr models fetch --force {SUC_NAME}" in capsys.readouterr().err
    assert cli("import", str(tmp_path / "absent.onnx")) == 2
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"x")
    assert cli("import", str(bad), "--name", SUC_NAME) == 2
    assert cli("import", str(bad), "--name", "bad name") == 2


@needs_shared
def test_cli_fetch_from_user_entry(server: Server, capsys: pytest.CaptureFixture[str], isolated: Path) -> None:
    sha = sha256(SHARED_MODELS / SUC)
    write_config({"models": [
        {"name": "local-suc", "url": f"{server.url}/{SUC}", "sha256": sha, "file": "suc.onnx"},
        {"name": "local-bad", "url": f"{server.url}/{SUC}", "sha256": "1" * 64, "file": "bad.onnx"},
    ]})
    assert cli("fetch", "--no-progress", "local-suc") == 0
    assert sha256(isolated / "suc.onnx") == sha
    assert cli("fetch", "--no-progress", "local-suc") == 0
    assert "already installed" in capsys.readouterr().out
    assert cli("fetch", "--no-progress", "local-bad") == 2
    assert "nothing was kept" in capsys.readouterr().err
    assert leftovers(isolated) == ["suc.onnx"]
    write_config("[")
    assert cli("list") == 2
    assert "invalid JSON" in capsys.readouterr().err


@needs_shared
def test_upscale_default_model_is_verified(isolated: Path, tmp_path: Path) -> None:
    """`kizunasr upscale` picks an installed model by the source's height (an HD source: the HD model in the
    models directory): it is checked too."""
    import subprocess
    import sys

    isolated.mkdir()
    data = bytearray((SHARED_MODELS / SUC).read_bytes())
    data[-100] ^= 0x10
    (isolated / SUC).write_bytes(bytes(data))
    source = tmp_path / "hd.mkv"  # 720 lines: the HD models' range (the built-in sample is SD)
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=1280x720:rate=24", "-frames:v", "2",
                    "-pix_fmt", "yuv420p", "-c:v", "libx264", str(source)], check=True, timeout=60)
    result = subprocess.run([sys.executable, "-m", "kizunasr_vs", "upscale", str(source)],
                            capture_output=True, text=True, cwd=tmp_path, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(f"kizunasr upscale: model '{SUC_NAME}' at ")
    assert result.stderr.strip().endswith(f"replace it with: kizunasr models fetch --force {SUC_NAME}")
    assert not (tmp_path / "hd_2x.mkv").exists()
