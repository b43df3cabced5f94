"""Nothing lost: outputs never replace an input or (without --overwrite) an existing file, follow the umask,
leave no temporary file behind a killed run, and bad --start/--end or container/codec pairs fail before decoding."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kizunasr_vs.core.files import remove_stale, replacing, write_atomic
from kizunasr_vs.media.encoder import CODECS, MUXER_CODECS, MUXERS
from kizunasr_vs.models import store
from tests.cli.test_encode_cli import make_clip
from tests.conftest import REPO, shared_model

SUC = "2x_AnimeJaNai_HD_V3_SuperUltraCompact-fp32.onnx"


def kizunasr(*args: str, umask: int = 0o022) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kizunasr_vs", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=900, preexec_fn=lambda: os.umask(umask))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def one_line_error(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert all(word in lines[0] for word in words), lines[0]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("media"), 64, 48, 3)


# --- 1. the output is never an input ------------------------------------------------------------------------


def test_encode_refuses_its_input_through_any_link(clip: Path, tmp_path: Path) -> None:
    source = tmp_path / "x.mkv"
    source.write_bytes(clip.read_bytes())
    before = digest(source)
    (tmp_path / "hard.mkv").hardlink_to(source)
    (tmp_path / "soft.mkv").symlink_to(source)
    for output in (source, tmp_path / "hard.mkv", tmp_path / "soft.mkv", tmp_path / "sub" / ".." / "x.mkv"):
        (tmp_path / "sub").mkdir(exist_ok=True)
        result = kizunasr("encode", str(source), str(output), "--profile", "performance", "-y")
        one_line_error(result, "is the input", "choose another output file")
    assert digest(source) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hard.mkv", "soft.mkv", "sub", "x.mkv"]


def test_batch_refuses_to_write_over_its_inputs(clip: Path, tmp_path: Path) -> None:
    source = tmp_path / "x.mkv"
    source.write_bytes(clip.read_bytes())
    before = digest(source)
    result = kizunasr("batch", str(source), "--out-dir", str(tmp_path), "--profile", "performance", "-y")
    one_line_error(result, "is the input")
    assert digest(source) == before
    # two inputs that would share one output
    other = tmp_path / "x.mp4"
    other.write_bytes(b"")
    (tmp_path / "out").mkdir()
    result = kizunasr("batch", str(source), str(other), "--out-dir", str(tmp_path / "out"), "--profile",
                      "performance")
    one_line_error(result, "would both be written")
    assert list((tmp_path / "out").iterdir()) == []


# --- 2. an existing output is replaced only with --overwrite / -y ---------------------------------------------


@pytest.mark.slow
def test_encode_and_upscale_keep_an_existing_output_without_overwrite(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mkv"
    out.write_bytes(b"precious")
    for command in ("encode", "upscale"):
        result = kizunasr(command, str(clip), str(out), "--codec", "h264")
        one_line_error(result, "exists", "--overwrite")
        assert out.read_bytes() == b"precious"
    (tmp_path / f"{clip.stem}.mkv").write_bytes(b"precious")
    result = kizunasr("batch", str(clip), "--out-dir", str(tmp_path), "--codec", "h264")
    one_line_error(result, "exists", "--overwrite")
    assert (tmp_path / f"{clip.stem}.mkv").read_bytes() == b"precious"
    out.chmod(0o640)
    result = kizunasr("encode", str(clip), str(out), "--profile", "performance", "--codec", "h264", "-y")
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:4] == b"\x1a\x45\xdf\xa3"  # Matroska (EBML) now
    assert out.stat().st_mode & 0o777 == 0o640  # a replaced file keeps its mode, as with ffmpeg -y


def test_replacing_without_overwrite_keeps_a_file_that_appeared(tmp_path: Path) -> None:
    target = tmp_path / "out.mkv"
    with pytest.raises(FileExistsError), replacing(target, ".partial", overwrite=False) as temp:
        temp.write_bytes(b"finished encode")
        target.write_bytes(b"the user's file")  # appears while the block runs
    assert target.read_bytes() == b"the user's file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mkv"]  # the temporary file is removed
    with replacing(tmp_path / "new.mkv", ".partial", overwrite=False) as temp:
        temp.write_bytes(b"new")
    assert (tmp_path / "new.mkv").read_bytes() == b"new"


def test_moving_without_replace_works_where_hard_links_do_not(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On SMB or some FUSE mounts link() fails with EPERM (simulated here: no such filesystem can be mounted in a
    test) and renameat2 is missing: the finished file still arrives, and an existing one is still kept."""
    import errno

    from kizunasr_vs.core import files

    def no_links(src: object, dst: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(files, "_renameat2_noreplace", lambda src, dst: False)
    monkeypatch.setattr(files.os, "link", no_links)
    (tmp_path / "a").write_bytes(b"finished")
    files.move_no_replace(tmp_path / "a", tmp_path / "out.mkv")
    assert (tmp_path / "out.mkv").read_bytes() == b"finished" and not (tmp_path / "a").exists()
    (tmp_path / "b").write_bytes(b"second")
    with pytest.raises(FileExistsError):
        files.move_no_replace(tmp_path / "b", tmp_path / "out.mkv")
    assert (tmp_path / "out.mkv").read_bytes() == b"finished" and (tmp_path / "b").exists()


def long_clip(folder: Path, seconds: int = 60) -> Path:
    """A 64x48 clip of ``seconds`` at 24 fps (no audio): long enough to be caught encoding."""
    path = folder / "long.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"testsrc2=s=64x48:r=24:d={seconds}",
                    "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast", str(path)], check=True)
    return path


def encode_while_output_appears(source: Path, out: Path, *options: str) -> subprocess.CompletedProcess:
    """`encode SOURCE OUT` (a plain 2x resize) with a file written at OUT as soon as the encode has started."""
    profile = out.parent / "resize.json"
    profile.write_text('{"name": "resize", "description": "2x", "requires": {}, "ranges": [{"max_height": null, '
                       '"realtime": [], "pause": [], "encode": [{"resize": {"scale": 2}}]}]}')
    proc = subprocess.Popen([sys.executable, "-m", "kizunasr_vs", "encode", str(source), str(out), "--profile",
                             str(profile), "--codec", "h264", *options], cwd=REPO, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not list(out.parent.glob(f".{out.name}.*.partial")) and time.monotonic() < deadline:
        time.sleep(0.01)
    out.write_bytes(b"written meanwhile")
    _, stderr = proc.communicate(timeout=600)
    profile.unlink()
    return subprocess.CompletedProcess(proc.args, proc.returncode, "", stderr)


def test_an_output_that_appears_while_encoding_is_kept_without_overwrite(tmp_path: Path) -> None:
    source = long_clip(tmp_path)
    out = tmp_path / "out.mkv"
    result = encode_while_output_appears(source, out)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"kizunasr encode: '{out}' appeared while encoding and was kept; the finished encode was removed" \
        in result.stderr, result.stderr
    assert out.read_bytes() == b"written meanwhile"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.mkv", "out.mkv"]  # no temporary file left
    out.unlink()
    result = encode_while_output_appears(source, out, "-y")  # with -y it is replaced
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:4] == b"\x1a\x45\xdf\xa3"


def test_export_glsl_keeps_an_existing_shader_without_overwrite(tmp_path: Path) -> None:
    model = shared_model(SUC)
    out = tmp_path / "mine.glsl"
    out.write_text("// my shader\n")
    result = kizunasr("export-glsl", str(model), "-o", str(out))
    assert result.returncode == 2 and "exists" in result.stderr and "--overwrite" in result.stderr
    assert out.read_text() == "// my shader\n"
    result = kizunasr("export-glsl", str(model), "-o", str(out), "--overwrite", umask=0o027)
    assert result.returncode == 0, result.stderr
    assert "//!HOOK MAIN" in out.read_text()


def test_models_import_keeps_another_model_of_that_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIZUNASR_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    from tests.models.test_models import tiny_model  # import runs the model: two real ones that differ

    first, second = tmp_path / "a.onnx", tmp_path / "b.onnx"
    first.write_bytes(tiny_model(2.0))
    second.write_bytes(tiny_model(4.0))
    store.import_file(first, name="mine")
    with pytest.raises(ValueError, match="exists; add --overwrite"):
        store.import_file(second, name="mine")
    assert (tmp_path / "models" / "mine.onnx").read_bytes() == first.read_bytes()
    store.import_file(second, name="mine", overwrite=True)
    assert (tmp_path / "models" / "mine.onnx").read_bytes() == second.read_bytes()


# --- 3. outputs follow the umask ----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600)])
def test_outputs_follow_the_umask(umask: int, mode: int, clip: Path, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    model = shared_model(SUC)
    out = tmp_path / "out.mkv"
    result = kizunasr("encode", str(clip), str(out), "--profile", "performance", "--codec", "h264", umask=umask)
    assert result.returncode == 0, result.stderr
    assert out.stat().st_mode & 0o777 == mode
    shader = tmp_path / "suc.glsl"
    result = kizunasr("export-glsl", str(model), "-o", str(shader), umask=umask)
    assert result.returncode == 0, result.stderr
    assert shader.stat().st_mode & 0o777 == mode
    monkeypatch.setenv("KIZUNASR_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    previous = os.umask(umask)
    try:
        store.import_file(model)
        write_atomic(tmp_path / "plain.txt", "x")
    finally:
        os.umask(previous)
    assert (tmp_path / "models" / SUC).stat().st_mode & 0o777 == mode
    assert (tmp_path / "plain.txt").stat().st_mode & 0o777 == mode


# --- 4. temporary files left by a killed run ----------------------------------------------------------------


def test_remove_stale_keeps_a_file_being_written(tmp_path: Path) -> None:
    target = tmp_path / "out.mkv"
    with replacing(target, ".partial") as live:
        live.write_bytes(b"half")
        dead = tmp_path / ".out.mkv.0badf00d.partial"  # a killed process's: nobody holds its lock
        dead.write_bytes(b"old half")
        assert remove_stale(tmp_path, "out.mkv", ".partial") == [dead]
        assert live.exists()
    assert target.read_bytes() == b"half" and not live.exists()


@pytest.mark.slow
def test_encode_killed_by_sigkill_leaves_a_partial_file_the_next_run_removes(tmp_path: Path) -> None:
    long = tmp_path / "long.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=64x48:r=24:d=400",
                    "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast", str(long)], check=True)
    out = tmp_path / "out.mkv"
    proc = subprocess.Popen([sys.executable, "-m", "kizunasr_vs", "encode", str(long), str(out), "--profile",
                             "performance", "--codec", "h264"], cwd=REPO, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not list(tmp_path.glob(".out.mkv.*.partial")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    time.sleep(2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    left = list(tmp_path.glob(".out.mkv.*.partial"))
    assert left and not out.exists(), "the encode was not caught writing"
    result = kizunasr("encode", str(long), str(out), "--profile", "performance", "--codec", "h264",
                      "--end", "3")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.mkv", "out.mkv"]


# --- 7. --start/--end and container/codec pairs are checked before decoding ---------------------------------


@pytest.mark.parametrize(("span", "words"), [
    (["--end", "infs"], ("finite",)), (["--start", "nans"], ("finite",)), (["--end", "1e400s"], ("finite",)),
    (["--start", "5", "--end", "3"], ("not before",)), (["--start", "2s", "--end", "0:01"], ("not before",)),
    (["--end", "soon"], ("cannot read position",)), (["--start", "1e308s"], ("past the end of any video",)),
])
def test_bad_start_end_fail_with_one_line(span: list[str], words: tuple[str, ...], clip: Path,
                                          tmp_path: Path) -> None:
    for command in (["encode", str(clip), str(tmp_path / "o.mkv")], ["upscale", str(clip), str(tmp_path / "o.mkv")],
                    ["batch", str(clip), "--out-dir", str(tmp_path)]):
        one_line_error(kizunasr(*command, *span), *words)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("name", "codec", "fits"), [("o.webm", "hevc", ".mkv"), ("o.mp4", "ffv1", ".mkv"),
                                                     ("o.y4m", "h264", ".mkv")])
def test_container_that_cannot_hold_the_codec_fails_before_decoding(name: str, codec: str, fits: str, clip: Path,
                                                                    tmp_path: Path) -> None:
    result = kizunasr("encode", str(clip), str(tmp_path / name), "--codec", codec)
    one_line_error(result, f"cannot hold {codec}", f"use {fits}")
    assert list(tmp_path.iterdir()) == []


def test_muxer_codec_table_agrees_with_ffmpeg(tmp_path: Path) -> None:
    """A pair is in the table when ffmpeg writes it and the file decodes back: HEVC in AVI is written, as a
    stream ffprobe calls rawvideo that does not decode, so it is out."""
    for suffix, muxer in MUXERS.items():
        for codec, args in CODECS.items():
            out = tmp_path / f"probe{suffix}"
            result = subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=s=64x48:d=0.1",
                                     "-pix_fmt", "yuv420p10le", *args, "-f", muxer, str(out)], capture_output=True)
            decoded = result.returncode == 0 and subprocess.run(
                ["ffmpeg", "-v", "error", "-i", str(out), "-map", "0:v:0", "-f", "null", "-"],
                capture_output=True, text=True).stderr == ""
            assert decoded == (codec in MUXER_CODECS[muxer]), (suffix, codec, result.stderr[-300:])


def test_avi_with_the_default_codec_is_refused_naming_the_containers_that_work(clip: Path, tmp_path: Path) -> None:
    result = kizunasr("encode", str(clip), str(tmp_path / "o.avi"))
    one_line_error(result, "a '.avi' file cannot hold hevc video; use .mkv (hevc fits in .mkv, .mp4, .mov, .mka, .nut)")
    assert list(tmp_path.iterdir()) == []


# --- 8. clear errors before work, and nothing after the real one -------------------------------------------------


def test_a_folder_as_output_and_an_odd_target_fail_before_work(clip: Path, tmp_path: Path) -> None:
    (tmp_path / "dir.mkv").mkdir()
    for command in (["encode", str(clip)], ["upscale", str(clip)]):
        one_line_error(kizunasr(*command, "-o", str(tmp_path / "dir.mkv"), "-y"), "is a folder", "give a file name")
        one_line_error(kizunasr(*command, "-o", str(tmp_path / "o.mkv"), "--target", "1921x1081"),
                       "--target 1921x1081: 4:2:0 video needs even sides; use 1920x1080")
    one_line_error(kizunasr("batch", str(clip), "--out-dir", str(tmp_path), "--target", "1921x1081"), "even sides")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.mkv"]


def tiny_long_clip(folder: Path) -> Path:
    """32x24 frames for 200 s: frames smaller than a pipe buffer, many of them."""
    path = folder / "tiny.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=32x24:r=24:d=200", "-pix_fmt",
                    "yuv420p", "-c:v", "libx264", "-preset", "ultrafast", str(path)], check=True)
    return path


@pytest.mark.slow
def test_a_full_disk_gives_its_error_and_nothing_after_it(tmp_path: Path) -> None:
    """A file size limit stands in for a full disk: ffmpeg cannot write on; no BrokenPipeError after the error."""
    import resource

    source = tiny_long_clip(tmp_path)
    out = tmp_path / "out.mkv"

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))

    result = subprocess.run([sys.executable, "-m", "kizunasr_vs", "encode", str(source), str(out), "--codec", "ffv1",
                             "--profile", "performance"], capture_output=True, text=True, cwd=REPO, timeout=900,
                            preexec_fn=small_files)
    assert result.returncode == 2
    assert "Exception ignored" not in result.stderr and "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.replace("\r", "\n").splitlines() if line.startswith("kizunasr")
              and "WARNING" not in line]
    assert errors == ["kizunasr encode: ffmpeg stopped early (killed by SIGXFSZ: the output reached the file size "
                      "limit (ulimit -f))"], result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.mkv"]


@pytest.mark.slow
def test_an_encode_started_with_sigint_ignored_is_not_stopped_by_it(tmp_path: Path) -> None:
    """Started in the background of a shell (SIGINT ignored), an encode goes on when its process group gets
    SIGINT, as it asked: ffmpeg must not stop under it."""
    source = long_clip(tmp_path, seconds=12)
    out = tmp_path / "out.mkv"
    proc = subprocess.Popen([sys.executable, "-m", "kizunasr_vs", "encode", str(source), str(out), "--codec", "h264",
                             "--profile", "performance"], cwd=REPO, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    deadline = time.monotonic() + 300
    while not list(tmp_path.glob(".out.mkv.*.partial")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1)
    os.killpg(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=900)
    assert proc.returncode == 0, stderr
    frames = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-show_entries", "stream=nb_read_frames",
                             "-of", "csv=p=0", str(out)], capture_output=True, text=True, check=True).stdout
    assert int(frames) == 12 * 24
