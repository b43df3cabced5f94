"""kizunasr_vs.onnx against direct onnxruntime runs and numpy references.

Real models come from $KIZUNASR_MODELS_DIR, $KIZUNASR_SHARED/models or ../shared/models; tiny
models are built here with onnx.helper so every result has an exact numpy reference.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import vapoursynth as vs
from onnx import TensorProto, helper, numpy_helper

from kizunasr_vs.core import hardware
from kizunasr_vs.inference import onnx_filter, ort_session, runner_cache
from kizunasr_vs.inference.backends import OrtCPU
from kizunasr_vs.inference.fp16 import convert_float_to_float16
from kizunasr_vs.inference.onnx_filter import onnx as kz_onnx
from kizunasr_vs.inference.runner_cache import ANY_SIZE, KEPT, ONNXRUNTIME, TORCH, BackendKey, RunnerCache, RunnerKey
from kizunasr_vs.inference.tiling import apply_tiled, plan_tiles
from tests.conftest import shared_media, shared_model
from tests.vsarrays import clip_from_planes, planes_of

SUC = "2x_AnimeJaNai_HD_V3_SuperUltraCompact-fp32.onnx"
core = vs.core


def _image(h: int, w: int, y: int = 100, x: int = 200) -> np.ndarray:
    """A [3, h, w] float32 0..1 crop of a real anime image."""
    path = shared_media("anime4k_bird_LR.png")
    from PIL import Image

    rgb = np.asarray(Image.open(path).convert("RGB"))[y:y + h, x:x + w]
    return np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32) / 255


def _ort_direct(model: Path | bytes, x: np.ndarray) -> np.ndarray:
    """Reference: a plain onnxruntime CPU session on a [C, H, W] array."""
    source = model if isinstance(model, bytes) else str(model)
    session = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return np.asarray(session.run(None, {name: x[None]})[0][0])


def _clip_of_frames(frames: Sequence[Sequence[np.ndarray]], fmt: int, **props: object) -> vs.VideoNode:
    """A clip whose frame n holds ``frames[n]`` (a list of 2-D planes)."""
    h, w = frames[0][0].shape
    blank = core.std.BlankClip(format=fmt, width=w, height=h, length=len(frames))

    def fill(n: int, f: vs.VideoFrame) -> vs.VideoFrame:
        out = f.copy()
        for i, plane in enumerate(frames[n]):
            np.copyto(np.asarray(out[i]), plane)
        return out

    return core.std.SetFrameProps(core.std.ModifyFrame(blank, blank, fill), **props)


def _rgbs(image: np.ndarray) -> vs.VideoNode:
    return clip_from_planes(list(image), vs.RGBS, _Matrix=0, _Transfer=1, _Primaries=1, _Range=1)


def _stack(clip: vs.VideoNode, n: int = 0) -> np.ndarray:
    return np.stack(planes_of(clip, n))


# --- tiny models ---------------------------------------------------------------------------------

def _model(nodes: list[onnx.NodeProto], inits: Sequence[np.ndarray | tuple[str, np.ndarray]],
           in_shape: Sequence[int | str], out_channels: int | None = None,
           dtype: int = TensorProto.FLOAT) -> bytes:
    """Serialize a one-input ('x') one-output ('y') model; inits are named w0, w1, ... or given names."""
    tensors = []
    for i, value in enumerate(inits):
        name, array = value if isinstance(value, tuple) else (f"w{i}", value)
        tensors.append(numpy_helper.from_array(array, name))
    channels = out_channels if out_channels is not None else in_shape[1]
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("x", dtype, list(in_shape))],
        [helper.make_tensor_value_info("y", dtype, ["n", channels, "oh", "ow"])],
        tensors,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


LUMA_W = np.random.default_rng(3).uniform(0, 2 / 9, (4, 1, 3, 3)).astype(np.float32)
LUMA_B = np.array([0.01, -0.02, 0.0, 0.03], np.float32)


def _luma_model(in_shape: Sequence[int | str] = ("n", 1, "h", "w")) -> bytes:
    """3x3 conv to 4 channels + DepthToSpace 2: a 1-channel 2x model."""
    nodes = [helper.make_node("Conv", ["x", "w0", "w1"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("DepthToSpace", ["c"], ["y"], blocksize=2, mode="DCR")]
    return _model(nodes, [LUMA_W, LUMA_B], in_shape)


def _luma_reference(y: np.ndarray) -> np.ndarray:
    """numpy version of _luma_model on a 2-D plane (zero-padded conv, DCR depth-to-space)."""
    h, w = y.shape
    padded = np.pad(y.astype(np.float64), 1)
    conv = np.zeros((4, h, w))
    for k in range(4):
        for dy in range(3):
            for dx in range(3):
                conv[k] += LUMA_W[k, 0, dy, dx] * padded[dy:dy + h, dx:dx + w]
        conv[k] += LUMA_B[k]
    return conv.reshape(2, 2, h, w).transpose(2, 0, 3, 1).reshape(2 * h, 2 * w)


def _resize_model(scales: Sequence[float], channels: int = 3, dtype: int = TensorProto.FLOAT) -> bytes:
    nodes = [helper.make_node("Resize", ["x", "", "s"], ["y"], mode="nearest")]
    return _model(nodes, [("s", np.array(scales, np.float32))], ("n", channels, "h", "w"), dtype=dtype)


IDENTITY = hardware.Identity("NVIDIA H100 80GB HBM3", "12.4", "1.22.0", "none", "10.3.0")


# --- (1, 2) real model vs direct onnxruntime, tiled vs untiled -----------------------------------

def test_real_model_matches_direct_onnxruntime() -> None:
    model = shared_model(SUC)
    image = _image(64, 96)
    out = kz_onnx(_rgbs(image), str(model), backend="cpu")
    assert (out.format.id, out.width, out.height) == (vs.RGBS, 192, 128)
    assert np.abs(_stack(out) - _ort_direct(model, image)).max() <= 1e-5


def test_tiled_sessions_are_built_once_per_model_and_settings() -> None:
    """A second graph with the same model and tiling reuses the sessions (the mpv worker builds one per pause)."""
    runners = RunnerCache()
    model = _resize_model([1, 1, 2, 2])
    image = _image(40, 56)
    first = _stack(kz_onnx(_rgbs(image), model, backend="cpu", tile=16, overlap=4, runners=runners))
    second = _stack(kz_onnx(_rgbs(image), model, backend="cpu", tile=16, overlap=4, runners=runners))
    assert runners.builds == 1
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first, image.repeat(2, axis=1).repeat(2, axis=2))  # nearest 2x
    kz_onnx(_rgbs(image), model, backend=OrtCPU(streams=2), tile=16, overlap=4, runners=runners).get_frame(0)
    assert runners.builds == 2  # other settings: other sessions


def test_tiled_equals_untiled() -> None:
    model = shared_model(SUC)
    image = _image(64, 96)
    clip = _rgbs(image)
    whole = _stack(kz_onnx(clip, model, backend="cpu"))
    tiled = _stack(kz_onnx(clip, model, backend="cpu", tile=32, overlap=16))
    assert np.abs(whole - tiled).max() <= 1e-5


def test_model_as_bytes() -> None:
    model = shared_model(SUC)
    image = _image(48, 64)
    out = kz_onnx(_rgbs(image), model.read_bytes(), backend="cpu")
    assert np.abs(_stack(out) - _ort_direct(model, image)).max() <= 1e-5


# --- (3) tiny models against numpy ---------------------------------------------------------------

def test_luma_model_on_gray() -> None:
    y = _image(30, 40)[1]
    clip = clip_from_planes([y], vs.GRAYS, _Range=1)
    out = kz_onnx(clip, _luma_model(), backend="cpu")
    assert (out.format.id, out.width, out.height) == (vs.GRAYS, 80, 60)
    assert np.abs(planes_of(out)[0] - _luma_reference(y)).max() <= 1e-5


def test_luma_model_on_yuv420p8() -> None:
    y8 = np.round(16 + 219 * _image(30, 40)[0]).astype(np.uint8)
    u8, v8 = np.full((15, 20), 100, np.uint8), np.full((15, 20), 150, np.uint8)
    clip = clip_from_planes([y8, u8, v8], vs.YUV420P8, _Matrix=1, _Range=0, _ChromaLocation=0,
                           _Transfer=1, _Primaries=1, Label="keep")
    out = kz_onnx(clip, _luma_model(), backend="cpu")
    assert (out.format.id, out.width, out.height) == (vs.YUV420P8, 80, 60)
    y_out, u_out, v_out = planes_of(out)
    luma = _luma_reference((y8.astype(np.float64) - 16) / 219)
    expected = np.clip(np.round(luma * 219 + 16), 0, 255)
    assert np.abs(y_out.astype(int) - expected).max() <= 1
    assert (u_out == 100).all() and (v_out == 150).all()
    props = out.get_frame(0).props
    assert props["Label"] == "keep" and props["_Matrix"] == 1


def test_4x_model_vs_numpy_repeat() -> None:
    image = _image(24, 32)
    out = kz_onnx(_rgbs(image), _resize_model([1, 1, 4, 4]), backend="cpu")
    assert (out.width, out.height) == (128, 96)
    assert np.array_equal(_stack(out), image.repeat(4, axis=1).repeat(4, axis=2))


def test_float16_model() -> None:
    nodes = [helper.make_node("Resize", ["x", "", "s"], ["r"], mode="nearest"),
             helper.make_node("Mul", ["r", "a"], ["m"]), helper.make_node("Add", ["m", "b"], ["y"])]
    inits: list[tuple[str, np.ndarray]] = [
        ("s", np.array([1, 1, 2, 2], np.float32)), ("a", np.array(0.5, np.float16)),
        ("b", np.array(0.25, np.float16))]
    model = _model(nodes, inits, ("n", 3, "h", "w"), dtype=TensorProto.FLOAT16)
    info = ort_session.model_info(ort_session.load_model(model))
    assert info.dtype == np.float16
    image = _image(20, 28)
    out = _stack(kz_onnx(_rgbs(image), model, backend="cpu"))
    expected = image.repeat(2, axis=1).repeat(2, axis=2) * 0.5 + 0.25
    assert out.dtype == np.float32 and np.abs(out - expected).max() <= 1e-3


def _space_to_depth_model(in_shape: Sequence[int | str] = ("n", 3, "h", "w")) -> bytes:
    """Needs H, W divisible by 8 (SpaceToDepth 8), then 2x nearest: output = input repeated."""
    nodes = [helper.make_node("SpaceToDepth", ["x"], ["a"], blocksize=8),
             helper.make_node("DepthToSpace", ["a"], ["b"], blocksize=8, mode="DCR"),
             helper.make_node("Resize", ["b", "", "s"], ["y"], mode="nearest")]
    return _model(nodes, [("s", np.array([1, 1, 2, 2], np.float32))], in_shape)


def test_pad_multiple_on_50x30() -> None:
    image = _image(30, 50)
    clip = _rgbs(image)
    model = _space_to_depth_model()
    with pytest.raises(vs.Error):  # 50x30 is not divisible by 8 without padding
        clip_out = kz_onnx(clip, model, backend="cpu")
        clip_out.get_frame(0)
    out = kz_onnx(clip, model, backend="cpu", pad_multiple=8)
    assert (out.width, out.height) == (100, 60)
    assert np.array_equal(_stack(out), image.repeat(2, axis=1).repeat(2, axis=2))


def test_fixed_shape_model_on_50x30() -> None:
    y = _image(30, 50)[0]
    clip = clip_from_planes([y], vs.GRAYS, _Range=1)
    out = kz_onnx(clip, _luma_model((1, 1, 32, 32)), backend="cpu", overlap=4)
    assert (out.width, out.height) == (100, 60)
    # height 30 < 32: the crop is edge-padded by 2 rows; width 50 > 32: tiles with 4 px of context.
    expected = _luma_reference(np.pad(y, ((0, 2), (0, 0)), mode="edge"))[:60]
    assert np.abs(planes_of(out)[0] - expected).max() <= 1e-5


# --- (4) YUV420P8 with the real model vs a zimg + onnxruntime + zimg reference ---------------------

def test_yuv420p8_real_model_matches_reference_pipeline() -> None:
    model = shared_model(SUC)
    rgb = _rgbs(_image(64, 96))
    yuv = core.resize.Bicubic(rgb, format=vs.YUV420P8, matrix=1, range=0, range_in=1)
    props = dict(_Matrix=1, _Range=0, _ChromaLocation=0, _Transfer=1, _Primaries=1, Label="user")
    yuv = core.std.SetFrameProps(yuv, **props)
    out = kz_onnx(yuv, model, backend="cpu")
    assert (out.format.id, out.width, out.height) == (vs.YUV420P8, 192, 128)
    frame_props = out.get_frame(0).props
    assert frame_props["_Matrix"] == 1 and frame_props["Label"] == "user"
    assert frame_props["_Range"] == 0

    ref_rgb = core.resize.Bicubic(yuv, format=vs.RGBS, matrix_in=1, range_in=0, chromaloc_in=0,
                                  transfer_in=1, primaries_in=1, range=1)
    up = _ort_direct(model, _stack(ref_rgb))
    ref = core.resize.Bicubic(clip_from_planes(list(up), vs.RGBS), format=vs.YUV420P8, matrix=1,
                              range=0, range_in=1, chromaloc=0)
    for got, want in zip(planes_of(out), planes_of(ref), strict=True):
        assert np.array_equal(got, want)  # same zimg conversions, same onnxruntime output

    as_rgb = kz_onnx(yuv, model, backend="cpu", output_format=vs.RGBS)
    assert as_rgb.format.id == vs.RGBS and as_rgb.get_frame(0).props["_Matrix"] == 0
    assert np.abs(_stack(as_rgb) - up).max() <= 1e-5


# --- (5) errors -----------------------------------------------------------------------------------

def _gray() -> vs.VideoNode:
    return clip_from_planes([np.full((16, 16), 0.5, np.float32)], vs.GRAYS, _Range=1)


def _rgb() -> vs.VideoNode:
    return clip_from_planes([np.full((16, 16), 0.5, np.float32)] * 3, vs.RGBS, _Range=1)


def test_error_missing_model(tmp_path: Path) -> None:
    missing = tmp_path / "nope.onnx"
    with pytest.raises(vs.Error, match="kizunasr models fetch") as e:
        kz_onnx(_rgb(), missing)
    assert str(missing) in str(e.value)


def test_error_corrupt_model(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00\xffthis is not a protobuf" * 10)
    with pytest.raises(vs.Error, match="cannot read model .*bad.onnx"):
        kz_onnx(_rgb(), bad)
    truncated = _luma_model()[:-20]
    with pytest.raises(vs.Error, match="^onnx: "):
        kz_onnx(_gray(), truncated)


def test_error_channel_mismatch() -> None:
    with pytest.raises(vs.Error, match=r"needs RGB.*GRAY.*format=vs\.RGBS"):
        kz_onnx(_gray(), _resize_model([1, 1, 2, 2]))
    with pytest.raises(vs.Error, match="1-channel.*the clip is RGB"):
        kz_onnx(_rgb(), _luma_model())
    for channels in (2, 4):
        with pytest.raises(vs.Error, match=f"has {channels} channels; KizunaSR needs 1 .luma. or 3 .RGB."):
            kz_onnx(_rgb(), _resize_model([1, 1, 2, 2], channels=channels))


def test_error_fixed_shape_conflicts() -> None:
    nodes = [helper.make_node("Resize", ["x", "", "s"], ["y"], mode="nearest")]
    batch2 = _model(nodes, [("s", np.array([1, 1, 2, 2], np.float32))], (2, 3, 16, 16))
    with pytest.raises(vs.Error, match="fixed batch of 2"):
        kz_onnx(_rgb(), batch2)
    with pytest.raises(vs.Error, match="fixed input height of 32.*does not fit"):
        kz_onnx(_gray(), _luma_model((1, 1, 32, 32)), tile=32, overlap=4)


def test_error_non_integer_scale() -> None:
    with pytest.raises(vs.Error, match="integer"):
        kz_onnx(_rgb(), _resize_model([1, 1, 1.5, 1.5]))
    with pytest.raises(vs.Error, match="integer"):
        kz_onnx(_rgb(), _resize_model([1, 1, 2, 3]))


def test_error_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ort_session, "available_providers", lambda: ["CPUExecutionProvider"])
    with pytest.raises(vs.Error, match="onnxruntime-gpu"):
        kz_onnx(_rgb(), _resize_model([1, 1, 2, 2]), backend="cuda")
    with pytest.raises(vs.Error, match="TensorRT"):
        kz_onnx(_rgb(), _resize_model([1, 1, 2, 2]), backend="tensorrt")
    with pytest.raises(vs.Error, match="provider must be"):
        kz_onnx(_rgb(), _resize_model([1, 1, 2, 2]), backend="vulkan")


# --- providers and options (no GPU needed) --------------------------------------------------------

def test_choose_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    every = [ort_session.TRT, ort_session.CUDA, ort_session.CPU]
    monkeypatch.setattr(ort_session, "available_providers", lambda: every)
    monkeypatch.setattr(hardware, "tensorrt_version", lambda: "10.3.0")
    assert ort_session.choose_providers("auto") == every
    assert ort_session.choose_providers("cuda") == [ort_session.CUDA, ort_session.CPU]
    assert ort_session.choose_providers("cpu") == [ort_session.CPU]
    monkeypatch.setattr(ort_session, "available_providers", lambda: every[1:])
    assert ort_session.choose_providers("auto") == every[1:]


def test_provider_options(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(hardware, "identity", lambda device_id=0: IDENTITY)
    sha = "ab" * 32
    (trt_name, trt), (cuda_name, cuda), _ = ort_session.provider_options(
        [ort_session.TRT, ort_session.CUDA, ort_session.CPU], sha, fp16=True)
    cache = Path(trt["trt_engine_cache_path"])
    assert cache.is_dir() and cache.parent == tmp_path / "kizunasr" / "trt"
    assert cache.name == f"{IDENTITY.slug}_{sha[:16]}_fp16"
    assert "H100" in cache.name and "cuda12.4" in cache.name and "trt10.3.0" in cache.name
    assert trt["trt_engine_cache_enable"] == "True" and trt["trt_fp16_enable"] == "True"
    assert cuda["cudnn_conv_algo_search"] == "EXHAUSTIVE" and cuda.get("prefer_nhwc") == "1"
    other = ort_session.provider_options([ort_session.TRT], "cd" * 32, fp16=False)[0][1]
    assert other["trt_engine_cache_path"] != trt["trt_engine_cache_path"]


# --- (6) fp16 converter ---------------------------------------------------------------------------

def test_fp16_converter_tiny_model() -> None:
    rng = np.random.default_rng(5)
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Constant", [], ["k"], value_float=0.75),
        helper.make_node("Mul", ["c", "k"], ["m"]),
        helper.make_node("Relu", ["m"], ["r"]),
        helper.make_node("Cast", ["r"], ["f"], to=TensorProto.FLOAT),
        helper.make_node("Add", ["f", "x"], ["a"]),
        helper.make_node("Resize", ["a", "", "s"], ["y"], mode="nearest"),
    ]
    inits = [("w", rng.uniform(-0.3, 0.3, (3, 3, 3, 3)).astype(np.float32)),
             ("b", np.array([0.1, 0.0, -0.1], np.float32)), ("s", np.array([1, 1, 2, 2], np.float32))]
    fp32 = onnx.load_from_string(_model(nodes, inits, ("n", 3, "h", "w")))
    fp16 = convert_float_to_float16(fp32)
    types = {init.name: init.data_type for init in fp16.graph.initializer}
    assert types == {"w": TensorProto.FLOAT16, "b": TensorProto.FLOAT16, "s": TensorProto.FLOAT}
    assert fp16.graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT
    assert fp16.graph.output[0].type.tensor_type.elem_type == TensorProto.FLOAT
    onnx.checker.check_model(fp16)
    x = rng.uniform(0, 1, (3, 20, 24)).astype(np.float32)
    want, got = _ort_direct(fp32.SerializeToString(), x), _ort_direct(fp16.SerializeToString(), x)
    assert got.dtype == np.float32 and np.abs(got - want).max() <= 1e-2


def test_fp16_real_model() -> None:
    model = shared_model(SUC)
    image = _image(48, 64)
    converted = convert_float_to_float16(onnx.load(str(model))).SerializeToString()
    want = _ort_direct(model, image)
    assert np.abs(_ort_direct(converted, image) - want).max() <= 1e-2
    out = _stack(kz_onnx(_rgbs(image), model, backend="cpu", fp16=True))
    assert np.abs(out - want).max() <= 1e-2


# --- (7) concurrency ------------------------------------------------------------------------------

@pytest.fixture
def two_threads() -> Iterator[None]:
    before = core.num_threads
    core.num_threads = 2
    yield
    core.num_threads = before


@pytest.mark.parametrize("streams", [1, 2])
def test_concurrent_frames_match_reference(two_threads: None, streams: int,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    model = shared_model(SUC)
    images = [_image(48, 64, y=20 * i, x=30 * i) for i in range(6)]
    clip = _clip_of_frames([list(img) for img in images], vs.RGBS, _Range=1, _Transfer=1, _Primaries=1)
    spans: list[tuple[float, float]] = []
    lock = threading.Lock()
    real_run = onnx_filter._frame  # the one ModifyFrame callback

    def timed_run(*args: object, **kwargs: object) -> vs.VideoFrame:
        start = time.perf_counter()
        result = real_run(*args, **kwargs)  # type: ignore[arg-type]
        time.sleep(0.05)  # widen the window so overlap is observable
        with lock:
            spans.append((start, time.perf_counter()))
        return result

    monkeypatch.setattr(onnx_filter, "_frame", timed_run)
    out = kz_onnx(clip, model, backend="cpu", streams=streams)
    spans.clear()  # drop the scale probe
    frames = [out.get_frame_async(n) for n in range(len(images))]
    for n, future in enumerate(frames):
        got = np.stack([np.asarray(future.result()[p]) for p in range(3)])
        assert np.abs(got - _ort_direct(model, images[n])).max() <= 1e-5, f"frame {n}"
    spans.sort()
    overlapping = any(b[0] < a[1] for a, b in zip(spans, spans[1:], strict=False))
    assert overlapping == (streams == 2)


# --- tiling (pure) --------------------------------------------------------------------------------

@pytest.mark.parametrize("size,tile,overlap,pad,fixed", [
    ((30, 50), None, (0, 0), 1, (None, None)),
    ((30, 50), (8, 16), (3, 5), 1, (None, None)),
    ((31, 47), (10, 10), (4, 4), 8, (None, None)),
    ((30, 50), None, (4, 4), 1, (32, 32)),
    ((100, 7), (20, 3), (2, 1), 4, (None, 16)),
])
def test_tiles_partition_and_fit(size: tuple[int, int], tile: tuple[int, int] | None,
                                 overlap: tuple[int, int], pad: int, fixed: tuple[int | None, int | None]) -> None:
    h, w = size
    tiles = plan_tiles(h, w, tile, overlap, pad, fixed)
    owned = np.zeros((h, w), int)
    for t in tiles:
        r, c = t.rows, t.cols
        owned[r.own_start:r.own_end, c.own_start:c.own_end] += 1
        assert r.crop_start <= r.own_start < r.own_end <= r.crop_end
        assert c.crop_start <= c.own_start < c.own_end <= c.crop_end
        for length, fix in zip(t.model_shape, fixed, strict=True):
            assert length == fix if fix is not None else length % pad == 0
    assert (owned == 1).all()


def test_apply_tiled_equals_whole_for_local_filter() -> None:
    rng = np.random.default_rng(1)
    image = rng.uniform(0, 1, (2, 37, 53)).astype(np.float32)

    def blur2x(x: np.ndarray) -> np.ndarray:  # radius-2 box blur, then 2x nearest
        p = np.pad(x[0], ((0, 0), (2, 2), (2, 2)))
        h, w = x.shape[2:]
        s = np.zeros_like(x[0])
        for dy in range(5):
            for dx in range(5):
                s += p[:, dy:dy + h, dx:dx + w] / 25
        return s.repeat(2, axis=1).repeat(2, axis=2)[None]

    whole = apply_tiled(image, plan_tiles(37, 53), 2, blur2x)
    tiled = apply_tiled(image, plan_tiles(37, 53, (9, 11), (2, 2)), 2, blur2x)
    assert np.abs(whole - tiled).max() <= 1e-6


# --- (8) sessions stay warm, TensorRT only when it loads ---------------------------------------------

def test_sessions_are_reused_across_graphs_and_evicted() -> None:
    model = shared_model(SUC)
    runners = RunnerCache()
    image = _image(24, 32)
    first = _stack(kz_onnx(_rgbs(image), str(model), backend="cpu", runners=runners))
    # another size, same sessions
    second = _stack(kz_onnx(_rgbs(image[:, :16, :20]), str(model), backend="cpu", runners=runners))
    assert runners.builds == 1
    assert first.shape == (3, 48, 64) and second.shape == (3, 32, 40)
    for streams in (2, 3, 4, 5):  # four more settings: the first entry is evicted
        kz_onnx(_rgbs(image), str(model), backend=OrtCPU(streams=streams), runners=runners)
    kz_onnx(_rgbs(image), str(model), backend="cpu", runners=runners)
    assert runners.builds == 6 and len(runners) == KEPT[ONNXRUNTIME]
    runners.release()
    assert len(runners) == 0


def test_the_shared_cache_serves_calls_that_pass_none() -> None:
    """Without ``runners=`` the process's shared cache keeps the sessions (the mpv worker's warm model)."""
    shared = runner_cache.shared()
    shared.clear()
    model = _resize_model([1, 1, 2, 2])
    kz_onnx(_rgbs(_image(8, 8)), model, backend="cpu").get_frame(0)
    kz_onnx(_rgbs(_image(8, 8)), model, backend="cpu").get_frame(0)
    assert len(shared) == 1
    shared.clear()


def test_runner_cache_keeps_each_kind_apart() -> None:
    """Torch runners (much GPU memory each) are evicted among themselves, at most KEPT[TORCH] of them."""
    cache = RunnerCache()
    ort_keys = [RunnerKey("m", BackendKey(("CPUExecutionProvider",), False, n), ANY_SIZE) for n in (1, 2)]
    torch_keys = [RunnerKey("m", BackendKey((TORCH,), True, 8), ("whole frame", h, 64)) for h in (16, 32, 48)]
    for key in ort_keys + torch_keys:
        assert cache.get_or_build(key, lambda key=key: key) == key
    assert len(cache) == len(ort_keys) + KEPT[TORCH]
    assert cache.get_or_build(ort_keys[0], lambda: "rebuilt") == ort_keys[0]  # kept: not rebuilt
    assert cache.get_or_build(torch_keys[0], lambda: "rebuilt") == "rebuilt"  # the oldest torch one went
    cache.clear()
    assert len(cache) == 0


def test_auto_skips_tensorrt_when_its_library_does_not_load(monkeypatch: pytest.MonkeyPatch) -> None:
    have = [ort_session.TRT, ort_session.CUDA, ort_session.CPU]
    monkeypatch.setattr(ort_session, "available_providers", lambda: have)
    monkeypatch.setattr(hardware, "tensorrt_version", lambda: None)
    assert ort_session.choose_providers("auto") == [ort_session.CUDA, ort_session.CPU]
    monkeypatch.setattr(hardware, "tensorrt_version", lambda: "10.3.0")
    assert ort_session.choose_providers("auto")[0] == ort_session.TRT


# --- (6) non-finite output --------------------------------------------------------------------------

def _nan_below_model(threshold: float = 0.1) -> bytes:
    """sqrt(x - t)^2 + t, resized 2x: the input (up to rounding) where it is >= ``threshold``, NaN below (the
    square root of a negative number)."""
    nodes = [helper.make_node("Sub", ["x", "t"], ["d"]), helper.make_node("Sqrt", ["d"], ["r"]),
             helper.make_node("Mul", ["r", "r"], ["p"]), helper.make_node("Add", ["p", "t"], ["q"]),
             helper.make_node("Resize", ["q", "", "s"], ["y"], mode="nearest")]
    return _model(nodes, [("t", np.array(threshold, np.float32)), ("s", np.array([1, 1, 2, 2], np.float32))],
                  ("n", 3, "h", "w"))


@pytest.mark.parametrize("run", ["whole", "tiled", "yuv_io"])
def test_nan_output_fails_naming_frame_and_model(run: str, tmp_path: Path) -> None:
    model = tmp_path / "nan.onnx"
    model.write_bytes(_nan_below_model())
    frames = [np.full((3, 16, 24), 0.5, np.float32) for _ in range(3)]
    frames[2][1, 5, 7] = 0.0  # one green sample of frame 2: NaN there
    if run == "yuv_io":  # integer YUV planes in: black (16, 128, 128) is RGB 0 inside the graph
        planes = [[np.full((16, 24), v, np.uint8) for v in (126, 128, 128)] for _ in range(3)]
        planes[2][0][5, 7] = 16
        out = kz_onnx(_clip_of_frames(planes, vs.YUV444P8, _Matrix=1, _Range=0, _Transfer=1, _Primaries=1),
                      model, backend="cpu", yuv_io=True)
        assert out.format.id == vs.YUV444P8
    else:
        out = kz_onnx(_clip_of_frames(frames, vs.RGBS, _Range=1), model, backend="cpu",
                      tile=8 if run == "tiled" else None)
        assert np.abs(_stack(out, 1) - frames[1].repeat(2, axis=1).repeat(2, axis=2)).max() <= 1e-6
    out.get_frame(1)
    with pytest.raises(vs.Error, match=rf"onnx: {tmp_path}/nan.onnx: frame 2: the model's output has NaN "
                                       "or Inf values.*pass fp16=False"):
        out.get_frame(2)
