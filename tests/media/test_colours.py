"""Encoded colours: an output decoded to RGB as a player does (the tags where present, else BT.709 for HD and
BT.601 for SD, limited range) shows the colours of the source's known RGB patches."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")

# Saturated colours and a skin tone: BT.601 and BT.709 YCbCr disagree on them by up to ~40 levels (8-bit).
PATCHES = np.array([[200, 30, 40], [40, 180, 60], [40, 60, 200], [220, 200, 40],
                    [40, 190, 200], [190, 50, 180], [225, 170, 140], [128, 128, 128]], dtype=np.uint8)
MAX_MEAN_ERROR = 2.0  # 8-bit levels per channel, over a patch's interior
# what a player assumes for a stream without tags, and ffmpeg's scale filter names for the tags
PLAYER_MATRIX = {"bt709": "bt709", "smpte170m": "smpte170m", "bt470bg": "bt470", "bt2020nc": "bt2020"}
RESIZE_PROFILE_FILE = str(REPO / "tests" / "media" / "resize_only.json")
RESIZE_PROFILE = {"name": "resize-only", "description": "a plain 2x resize, so colours are the source's",
                  "requires": {"gpu": False},
                  "ranges": [{"max_height": None, "realtime": [], "pause": [],
                              "encode": [{"resize": {"scale": 2, "kernel": "spline36"}}]}]}


def patch_image(width: int, height: int) -> np.ndarray:
    """4x2 patches of PATCHES filling a width x height RGB image."""
    rows = [np.concatenate([np.broadcast_to(PATCHES[r * 4 + c], (height // 2, width // 4, 3)) for c in range(4)],
                           axis=1) for r in range(2)]
    return np.ascontiguousarray(np.concatenate(rows, axis=0))


def make_source(tmp_path: Path, width: int, height: int, matrix: str, tags: list[str]) -> Path:
    """Three frames of the patches in 4:2:0 YUV with ``matrix`` (an ffmpeg scale name), tagged with ``tags``."""
    out = tmp_path / f"patches_{width}x{height}.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}",
                    "-r", "24", "-i", "pipe:0", "-vf", f"scale=out_color_matrix={matrix}:out_range=tv,format=yuv420p",
                    *tags, "-c:v", "libx264", "-qp", "0", str(out)],
                   input=patch_image(width, height).tobytes() * 3, check=True)
    return out


def probe(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_streams", "-of", "json",
                          str(path)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["streams"][0]


def decode_as_player(path: Path) -> np.ndarray:
    """Frame 0 as RGB24, converted with the stream's matrix and range tags, or a player's defaults without them."""
    info = probe(path)
    width, height = info["width"], info["height"]
    hd = width >= 1280 or height > 576  # mpv's guess for untagged video
    matrix = PLAYER_MATRIX.get(info.get("color_space", ""), "bt709" if hd else "bt601")
    in_range = "pc" if info.get("color_range") == "pc" else "tv"
    scale = f"scale=in_color_matrix={matrix}:in_range={in_range}:flags=accurate_rnd+full_chroma_int"
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-frames:v", "1", "-vf", f"{scale},format=rgb24",
                          "-f", "rawvideo", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(height, width, 3)


def patch_errors(rgb: np.ndarray) -> list[float]:
    """Mean absolute error per patch (interiors: a quarter of each side left out) against PATCHES."""
    h, w = rgb.shape[0] // 2, rgb.shape[1] // 4
    errors = []
    for i, colour in enumerate(PATCHES):
        r, c = divmod(i, 4)
        inner = rgb[r * h + h // 4:(r + 1) * h - h // 4, c * w + w // 4:(c + 1) * w - w // 4].astype(np.float64)
        errors.append(float(np.abs(inner - colour).mean()))
    return errors


def encode(tmp_path: Path, source: Path, *options: str) -> Path:
    out = tmp_path / "out.mkv"
    result = subprocess.run([sys.executable, "-m", "kizunasr_vs", "encode", str(source), str(out), "-y", *options],
                            capture_output=True, text=True, cwd=REPO, timeout=900)
    assert result.returncode == 0, result.stderr
    return out


SD_TAGS = ["-colorspace", "smpte170m", "-color_primaries", "smpte170m", "-color_trc", "smpte170m",
           "-color_range", "tv"]
HD_TAGS = ["-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv"]


@pytest.mark.slow
@pytest.mark.parametrize("codec", ["hevc", "ffv1"])
def test_sd_source_upscaled_to_hd_keeps_its_colours(tmp_path: Path, codec: str) -> None:
    source = make_source(tmp_path, 320, 240, "bt601", SD_TAGS)
    assert max(patch_errors(decode_as_player(source))) < MAX_MEAN_ERROR  # the reference itself
    out = encode(tmp_path, source, "--profile", "performance", "--codec", codec, "--end", "1")
    info = probe(out)
    assert (info["width"], info["height"]) == (1280, 960)
    errors = patch_errors(decode_as_player(out))
    assert max(errors) < MAX_MEAN_ERROR, errors
    # converted to BT.709 for HD (what players assume), primaries and transfer kept, all tagged
    assert (info.get("color_space"), info.get("color_primaries"), info.get("color_transfer"),
            info.get("color_range")) == ("bt709", "smpte170m", "smpte170m", "tv")


@pytest.mark.parametrize(("size", "matrix", "tags", "target", "space"), [
    ((320, 240), "bt601", SD_TAGS, "320x240", "smpte170m"),  # SD stays BT.601, tagged
    ((640, 360), "bt709", HD_TAGS, None, "bt709"),  # a BT.709 source stays BT.709
])
def test_tags_follow_the_source(tmp_path: Path, size: tuple[int, int], matrix: str, tags: list[str],
                                target: str | None, space: str) -> None:
    source = make_source(tmp_path, *size, matrix, tags)
    profile = tmp_path / "resize.json"
    profile.write_text(json.dumps(RESIZE_PROFILE))
    out = encode(tmp_path, source, "--profile", str(profile), "--codec", "h264", "--end", "1",
                 *(["--target", target] if target else []))
    info = probe(out)
    assert (info.get("color_space"), info.get("color_range")) == (space, "tv")
    errors = patch_errors(decode_as_player(out))
    assert max(errors) < MAX_MEAN_ERROR, errors


def test_kz_upscale_gives_the_colours_encode_writes() -> None:
    """A BT.601 SD clip upscaled to HD by kz.upscale is BT.709 YUV, tagged so, with the source's colours."""
    import vapoursynth as vs

    import kizunasr_vs as kz
    from tests.vsarrays import clip_from_planes

    rgb = patch_image(320, 240)
    planes = [rgb[..., c].astype(np.float32) / 255 for c in range(3)]
    source = clip_from_planes(planes, vs.RGBS).resize.Bicubic(format=vs.YUV420P8, matrix=6, range=0)
    source = source.std.SetFrameProps(_Matrix=6, _Transfer=6, _Primaries=6, _Range=0, _ChromaLocation=0)
    out = kz.upscale(source, RESIZE_PROFILE_FILE, target=(1280, 960))
    props = out.get_frame(0).props
    assert {k: props[k] for k in ("_Matrix", "_Transfer", "_Primaries", "_Range")} == \
        {"_Matrix": 1, "_Transfer": 6, "_Primaries": 6, "_Range": 0}
    shown = out.resize.Bicubic(format=vs.RGB24, matrix_in=props["_Matrix"], range_in=0)  # as its tags say
    frame = shown.get_frame(0)
    errors = patch_errors(np.dstack([np.asarray(frame[c]) for c in range(3)]))
    assert max(errors) < MAX_MEAN_ERROR, errors


def readme_recipe() -> str:
    """The ffmpeg half of the README's vspipe | ffmpeg recipe, as one line."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = text[text.index("vspipe -c y4m script.vpy - | ffmpeg"):]
    return block[:block.index("```")].replace("\\\n", " ").split("|", 1)[1].strip()


def test_the_readme_vspipe_recipe_keeps_colours_and_audio(tmp_path: Path) -> None:
    vspipe = Path(sys.executable).with_name("vspipe")
    if not vspipe.exists():
        pytest.skip("vspipe is not installed beside this Python")
    source = tmp_path / "sd.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "320x240", "-r", "24",
                    "-i", "pipe:0", "-f", "lavfi", "-i", "sine=d=0.125", "-vf",
                    "scale=out_color_matrix=bt601:out_range=tv,format=yuv420p", *SD_TAGS, "-c:v", "libx264",
                    "-qp", "0", "-c:a", "aac", "-shortest", str(source)],
                   input=patch_image(320, 240).tobytes() * 3, check=True)
    recipe = readme_recipe().replace("episode.mkv", str(source)).replace("out.mkv", str(tmp_path / "out.mkv"))
    recipe = recipe.replace("-color_primaries bt709 -color_trc bt709", "-color_primaries smpte170m -color_trc "
                            "smpte170m")  # the README: keep an SD source's primaries and transfer
    script = [str(vspipe), "-c", "y4m", "-a", f"input={source}", "-a", f"profile={RESIZE_PROFILE_FILE}", "-a",
              "target=1280x960", str(REPO / "examples" / "upscale.vpy"), "-"]
    result = subprocess.run(f"{shlex.join(script)} | {recipe}", shell=True, capture_output=True, text=True,
                            cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out.mkv"
    info = probe(out)
    assert (info["width"], info["height"], info.get("color_space"), info.get("color_primaries")) == \
        (1280, 960, "bt709", "smpte170m")
    errors = patch_errors(decode_as_player(out))
    assert max(errors) < MAX_MEAN_ERROR, errors
    audio = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "a", "-show_entries", "stream=codec_name",
                            "-of", "csv=p=0", str(out)], capture_output=True, text=True, check=True).stdout
    assert audio.strip() == "aac"
