"""`kizunasr train` and the training package: degradations against numpy references, the network's ops, a tiny
real run (a few steps) with its checkpoint resumed, and the exported ONNX and GLSL checked against each other."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from PIL import Image

from kizunasr_vs.cli.main import main
from tests.conftest import shared_media

torch = pytest.importorskip("torch", reason="PyTorch (the torch extra) is not installed: pip install '.[torch]'")
# Adam imports torch._dynamo, which loads triton's LLVM; done after Mesa's lavapipe (LLVM too) is live in the
# process, as when earlier tests have rendered, it segfaults. Import it now, at collection, before any render.
pytest.importorskip("torch._dynamo")

from kizunasr_vs.core.errors import InputError  # noqa: E402
from kizunasr_vs.train import arch, degrade, lineart  # noqa: E402
from kizunasr_vs.train.data import (  # noqa: E402
    LIMITED_OFFSET,
    LIMITED_SCALE,
    PairStream,
    find_images,
    folder_weights,
)
from kizunasr_vs.train.loop import Recipe, checkpoint_path, learning_rate, load_checkpoint  # noqa: E402

COMPILER_OPS = {"Conv", "PRelu", "Relu", "Neg", "Add", "DepthToSpace", "Resize", "Concat", "Identity", "Pad"}


def image_ops(model: onnx.ModelProto) -> set[str]:
    """Ops of the nodes that read the image or a tensor computed from it (the exporter's constant subgraphs,
    such as the pad widths, are folded by the compiler and left out)."""
    constant = {i.name for i in model.graph.initializer}
    ops = set()
    for node in model.graph.node:
        if all(i in constant or not i for i in node.input):
            constant.update(node.output)
        else:
            ops.add(node.op_type)
    return ops


def test_box_downscale_is_the_2x2_mean() -> None:
    """The clean box degradation equals the mean of each 2x2 block (numpy), within 8-bit rounding."""
    rgb = np.random.default_rng(1).integers(0, 256, (32, 48, 3), dtype=np.uint8)
    lr = degrade.degrade(Image.fromarray(rgb), degrade.Degradation(Image.Resampling.BOX, 0.0, None))
    ref = rgb.astype(np.float64).reshape(16, 2, 24, 2, 3).mean(axis=(1, 3))
    assert np.abs(np.asarray(lr, np.float64) - ref).max() <= 1.0


def test_luma_is_bt709() -> None:
    rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]]], np.uint8)
    np.testing.assert_allclose(degrade.luma(rgb)[0], [0.2126, 0.7152, 0.0722, 1.0], atol=1e-6)


def test_jpeg_degradation_changes_the_picture_and_keeps_its_size() -> None:
    rgb = np.asarray(lineart.draw(64, np.random.default_rng(2)))
    clean = degrade.degrade(Image.fromarray(rgb), degrade.Degradation(Image.Resampling.BICUBIC, 0.0, None))
    jpeg = degrade.degrade(Image.fromarray(rgb), degrade.Degradation(Image.Resampling.BICUBIC, 0.0, 40))
    assert clean.size == jpeg.size == (32, 32)
    assert np.abs(np.asarray(clean, np.int16) - np.asarray(jpeg, np.int16)).mean() > 0.5


def test_drawn_pictures_have_flat_regions_and_lines() -> None:
    """Cel-like: most pixels sit in flat areas, a share are dark line pixels, and two seeds differ."""
    a = np.asarray(lineart.draw(128, np.random.default_rng(3)), np.float64)
    b = np.asarray(lineart.draw(128, np.random.default_rng(4)), np.float64)
    grad = np.abs(np.diff(a, axis=1)).sum(axis=2)
    assert (grad < 3).mean() > 0.6
    assert (a.mean(axis=2) < a.mean() * 0.5).mean() > 0.005
    assert np.abs(a - b).mean() > 10


def test_pairs_are_aligned_patches_in_range() -> None:
    """Each LR patch is the HR patch reduced: their means agree; limited-range pairs stay in 16-235."""
    stream = PairStream([shared_media("realesrgan_0014.jpg")], patch=16, drawn_fraction=0.5, seed=0)
    rng = np.random.default_rng(0)
    cache: dict = {}
    drawn: list = []
    for _ in range(40):
        lr, hr = stream.sample(rng, cache, drawn)
        assert lr.shape == (16, 16) and hr.shape == (32, 32)
        assert abs(float(lr.mean()) - float(hr.mean())) < 0.05
        assert lr.min() >= 0 and hr.max() <= 1


def test_pairs_are_reduced_with_the_chosen_filters_only() -> None:
    """With ``filters=("box",)`` every clean LR patch is its HR patch's 2x2 mean (numpy, within 8-bit rounding);
    with Lanczos alone the same stream's pairs are not; an unknown filter name is refused, naming the choices."""
    def worst_box_error(filters: tuple[str, ...]) -> float:
        stream = PairStream([shared_media("realesrgan_0014.jpg")], patch=16, drawn_fraction=0.3, seed=4,
                            blur_prob=0.0, jpeg_prob=0.0, filters=filters)
        rng, cache, drawn = np.random.default_rng(4), {}, []  # type: ignore[var-annotated]
        worst = 0.0
        for _ in range(30):
            lr, hr = stream.sample(rng, cache, drawn)
            mean = hr.astype(np.float64).reshape(16, 2, 16, 2).mean(axis=(1, 3))
            worst = max(worst, float(np.abs(lr - mean).max()))
        return worst

    assert worst_box_error(("box",)) <= 1.5 / 255
    assert worst_box_error(("lanczos",)) > 10 / 255
    with pytest.raises(InputError, match="PairStream: unknown reduction\\(s\\) bicubik; choose from box, bilinear"):
        PairStream([], 16, 1.0, seed=0, filters=("box", "bicubik"))


def test_train_cli_refuses_unknown_filters_and_records_the_chosen_ones(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    common = ["--steps", "1", "--batch", "2", "--patch", "8", "--workers", "0", "--device", "cpu", "--tier", "s"]
    assert main(["train", "-o", str(tmp_path / "bad"), "--filters", "box,nearest", *common]) == 2
    assert "--filters: unknown reduction(s) nearest; choose from box, bilinear" in capsys.readouterr().err
    assert main(["train", "-o", str(tmp_path / "run"), "--filters", "box, lanczos", *common]) == 0
    assert json.loads((tmp_path / "run" / "kizuna_cnn_x2_s.json").read_text())["filters"] == ["box", "lanczos"]


def test_train_cli_h264_share_is_checked_and_recorded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--h264 outside [0, 1] is refused; a run with every input coded by x264 (fresh pairs, no bank) trains and
    records the share."""
    common = ["--steps", "2", "--batch", "2", "--patch", "8", "--workers", "0", "--device", "cpu", "--tier", "s"]
    assert main(["train", "-o", str(tmp_path / "bad"), "--h264", "1.5", *common]) == 2
    assert "--h264" in capsys.readouterr().err
    assert main(["train", "-o", str(tmp_path / "run"), "--h264", "1", *common]) == 0
    assert json.loads((tmp_path / "run" / "kizuna_cnn_x2_s.json").read_text())["h264_prob"] == 1.0


def _grey_images(folder: Path, value: int, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{value}_{i}.png" for i in range(count)]
    for path in paths:
        Image.new("RGB", (64, 64), (value,) * 3).save(path)
    return paths


def test_balanced_folders_draw_each_folder_equally(tmp_path: Path) -> None:
    """One dark image in a/ and five light ones in b/: drawn per image, about 1 patch in 6 is dark; with folder
    weights, about half are (identified by their known grey levels)."""
    _grey_images(tmp_path / "a", 40, 1)
    _grey_images(tmp_path / "b", 200, 5)
    images = find_images(tmp_path)
    weights = folder_weights(images, tmp_path)
    assert sum(w for p, w in zip(images, weights, strict=True) if p.parent.name == "a") == pytest.approx(0.5)

    def dark_share(stream: PairStream) -> float:
        rng, cache, drawn = np.random.default_rng(1), {}, []  # type: ignore[var-annotated]
        return float(np.mean([stream.sample(rng, cache, drawn)[1].mean() < 0.4 for _ in range(300)]))

    kwargs = {"patch": 8, "drawn_fraction": 0.0, "seed": 0, "blur_prob": 0.0, "jpeg_prob": 0.0}
    assert 0.10 < dark_share(PairStream(images, **kwargs)) < 0.25  # type: ignore[arg-type]
    assert 0.40 < dark_share(PairStream(images, weights=weights, **kwargs)) < 0.60  # type: ignore[arg-type]
    for bad in (weights[:-1], [-1.0] + weights[1:], [0.0] * len(weights), [float("nan")] + weights[1:]):
        with pytest.raises(ValueError, match="one finite, non-negative number per image"):
            PairStream(images, weights=bad, **kwargs)  # type: ignore[arg-type]


def test_folder_weights_group_by_top_level_folder(tmp_path: Path) -> None:
    """Images directly in the root share one half; x/deep and x/other together (one top-level folder) the other."""
    _grey_images(tmp_path, 10, 2)
    _grey_images(tmp_path / "x" / "deep", 20, 1)
    _grey_images(tmp_path / "x" / "other", 30, 1)
    images = find_images(tmp_path)
    weights = folder_weights(images, tmp_path)
    by_image = {p.relative_to(tmp_path).as_posix(): w for p, w in zip(images, weights, strict=True)}
    assert by_image == pytest.approx({"10_0.png": 0.25, "10_1.png": 0.25, "x/deep/20_0.png": 0.25,
                                      "x/other/30_0.png": 0.25})


def test_limited_range_mapping() -> None:
    assert abs(LIMITED_OFFSET - 16 / 255) < 1e-12 and abs(LIMITED_OFFSET + LIMITED_SCALE - 235 / 255) < 1e-12


def test_network_uses_only_compiler_ops_and_upscales_2x(tmp_path: Path) -> None:
    from kizunasr_vs.train.export import to_onnx

    for tier in arch.TIERS:
        path = to_onnx(arch.build(tier), tmp_path / f"{tier}.onnx")
        ops = image_ops(onnx.load(str(path)))
        assert ops <= COMPILER_OPS, ops - COMPILER_OPS
        assert "Pad" in ops  # replicate padding
    net = arch.build("s")
    assert net(torch.rand(1, 1, 10, 14)).shape == (1, 1, 20, 28)
    with pytest.raises(ValueError, match="unknown tier"):
        arch.build("xl")


def test_network_with_a_silent_hidden_path_is_bicubic() -> None:
    """The tail's weights on the input start as Catmull-Rom interpolation: with the hidden path silenced, a fresh
    network upscales a smooth picture like PIL's bicubic (a = -0.5), far closer than nearest-neighbour does."""
    yy, xx = np.mgrid[0:24, 0:24]
    img = (0.5 + 0.2 * np.sin(xx / 3.0) + 0.2 * np.cos(yy / 4.0)).astype(np.float32)
    net = arch.build("s")
    with torch.no_grad():
        for conv in net.convs:
            conv.weight.zero_()
            conv.bias.zero_()
        net.tail.weight[:, :-1] = 0
        out = net(torch.from_numpy(img)[None, None])[0, 0].numpy()
    ref = np.asarray(Image.fromarray(img, mode="F").resize((48, 48), Image.Resampling.BICUBIC))
    nearest = img.repeat(2, 0).repeat(2, 1)
    inner = (slice(4, -4), slice(4, -4))
    assert np.abs(out - ref)[inner].max() < 0.01
    assert np.abs(nearest - ref)[inner].max() > 0.02


def test_learning_rate_warms_up_then_decays() -> None:
    r = Recipe(steps=1000, lr=1e-3)
    assert learning_rate(r, 0) < learning_rate(r, 19) == pytest.approx(1e-3)
    assert learning_rate(r, 999) == pytest.approx(1e-5, rel=0.05)


def test_missing_frames_folder_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(FileNotFoundError, match="no images"):
        find_images(tmp_path)
    assert main(["train", str(tmp_path / "nope"), "-o", str(tmp_path / "run")]) == 2
    assert "not found" in capsys.readouterr().err


@pytest.mark.slow
def test_tiny_run_resumes_and_exports_matching_glsl(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A few real steps on a real frame; the second call resumes from the checkpoint; the GLSL, run by
    libplacebo, equals onnxruntime's run of the ONNX to >= 45 dB on a real frame."""
    frames = tmp_path / "frames"
    frames.mkdir()
    shutil.copy(shared_media("realesrgan_0014.jpg"), frames)
    run = tmp_path / "run"
    args = ["train", str(frames), "--tier", "s", "-o", str(run), "--batch", "4", "--workers", "0", "--device", "cpu"]
    assert main([*args, "--steps", "6"]) == 0
    state = load_checkpoint(checkpoint_path(run, "s"))
    assert state is not None and state["step"] == 6
    first = {k: v.clone() for k, v in state["model"].items()}
    assert main([*args, "--steps", "10"]) == 0
    state = load_checkpoint(checkpoint_path(run, "s"))
    assert state is not None and state["step"] == 10
    assert any(not torch.equal(first[k], v) for k, v in state["model"].items())
    out = capsys.readouterr().out
    assert "GLSL vs ONNX" in out and "(ok)" in out, out
    for suffix in ("onnx", "glsl", "json"):
        assert (run / f"kizuna_cnn_x2_s.{suffix}").is_file()
    # an independent check of the same claim, on another real frame
    from kizunasr_vs.train.export import MIN_GLSL_PSNR, check_luma, glsl_vs_onnx_psnr

    y = check_luma(shared_media("anime4k_bird_LR.png"))
    assert glsl_vs_onnx_psnr(run / "kizuna_cnn_x2_s.onnx", run / "kizuna_cnn_x2_s.glsl", y) >= MIN_GLSL_PSNR


@pytest.mark.slow
def test_tiers_train_together_and_resume_only_in_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two tiers share the batches and their checkpoints; a run whose tiers stand at different steps is refused."""
    from kizunasr_vs.train.loop import train

    run = tmp_path / "run"
    nets = train([], run, ["s", "m"], Recipe(steps=2, batch=2, patch=8, workers=0), device="cpu", progress=False)
    assert [n.tier.name for n in nets] == ["s", "m"]
    train([], run, ["s"], Recipe(steps=3, batch=2, patch=8, workers=0), device="cpu", progress=False)
    assert main(["train", "--tier", "s", "--tier", "m", "-o", str(run), "--steps", "4", "--workers", "0"]) == 2
    assert "different steps" in capsys.readouterr().err


@pytest.mark.slow
def test_init_starts_a_new_run_from_another_runs_networks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--init: weights from another run, step count and optimiser fresh (fine-tuning on one's own frames)."""
    from kizunasr_vs.train.loop import train

    base = tmp_path / "base"
    train([], base, ["s"], Recipe(steps=3, batch=2, patch=8, workers=0), device="cpu", progress=False)
    tuned = tmp_path / "tuned"
    common = ["--steps", "1", "--batch", "2", "--patch", "8", "--workers", "0", "--lr", "1e-12", "--device", "cpu"]
    assert main(["train", "--tier", "s", "-o", str(tuned), "--init", str(base), *common]) == 0
    a = load_checkpoint(checkpoint_path(base, "s"))
    b = load_checkpoint(checkpoint_path(tuned, "s"))
    assert a is not None and b is not None and b["step"] == 1
    for key, value in a["model"].items():
        torch.testing.assert_close(b["model"][key], value, atol=1e-6, rtol=0)
    assert main(["train", "--tier", "s", "-o", str(tmp_path / "other"), "--init", str(tmp_path / "none"), *common]) == 2
    assert "no checkpoint of tier 's'" in capsys.readouterr().err


def test_balance_folders_is_kept_in_the_recipe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """``kizunasr train --balance-folders`` hands the training loop one weight per frame, each folder an equal
    share, and writes the choice into the recipe beside the weights; with no FRAMES_DIR it is refused."""
    frames = tmp_path / "frames"
    _grey_images(frames / "show_a", 60, 1)
    _grey_images(frames / "show_b", 180, 2)
    run = tmp_path / "run"
    common = ["--steps", "1", "--batch", "2", "--patch", "8", "--workers", "0", "--device", "cpu", "--tier", "s"]
    from kizunasr_vs.train import loop

    seen: dict = {}
    real_train = loop.train

    def spy(*args: object, **kwargs: object) -> object:
        seen.update(kwargs)
        return real_train(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(loop, "train", spy)
    assert main(["train", str(frames), "-o", str(run), "--balance-folders", *common]) == 0
    assert json.loads((run / "kizuna_cnn_x2_s.json").read_text())["balance_folders"] is True
    by_folder = {p.parent.name: w for p, w in zip(find_images(frames), seen["weights"], strict=True)}
    assert by_folder == pytest.approx({"show_a": 0.5, "show_b": 0.25})
    assert main(["train", "-o", str(tmp_path / "drawn"), "--balance-folders", *common]) == 2
    assert "--balance-folders needs a FRAMES_DIR" in capsys.readouterr().err


def test_grain_adds_noise_of_the_drawn_strength_and_horizontal_scanlines() -> None:
    """On a flat grey picture: the added grain is zero-mean with sigma 1.5-6 code values (x1.8 after softening),
    and where scanlines were drawn, alternate rows are 3-12% darker than their neighbours."""
    flat = Image.new("RGB", (128, 128), (128, 128, 128))
    sigmas, ratios = [], []
    for seed in range(40):
        y = np.asarray(degrade.add_grain(flat, np.random.default_rng(seed)), np.float64)[..., 0]
        assert np.all(y == np.asarray(degrade.add_grain(flat, np.random.default_rng(seed)))[..., 0])  # seeded
        rows = y.mean(axis=1)
        even, odd = rows[0::2].mean(), rows[1::2].mean()
        ratios.append(min(even, odd) / max(even, odd))
        sigmas.append((y - rows[:, None]).std())
    assert all(0.9 < s < 8.0 for s in sigmas)
    dark = [r for r in ratios if r < 0.985]
    assert 8 <= len(dark) <= 32 and all(0.86 < r < 0.975 for r in dark)  # about half the draws, 3-12% darker
    assert all(abs(m - 128) < 14 for m in (np.asarray(degrade.add_grain(flat, np.random.default_rng(s))).mean()
                                           for s in range(5)))


def test_crisp_drawings_have_hard_one_or_two_pixel_dark_lines() -> None:
    """Drawn at 1x without anti-aliasing: only a few colours (fills and one line colour), the line colour dark,
    and most line pixels in runs of one or two across."""
    img = np.asarray(lineart.draw(160, np.random.default_rng(11), crisp=True))
    colours, counts = np.unique(img.reshape(-1, 3), axis=0, return_counts=True)
    assert len(colours) <= 12  # no anti-aliased blends
    grey = colours.mean(axis=1)
    line = colours[np.argmin(grey)]
    assert grey.min() < 0.25 * 255 and counts[np.argmin(grey)] > 100
    is_line = np.all(img == line, axis=2)
    runs = []
    for row in is_line:
        edges = np.flatnonzero(np.diff(np.concatenate(([0], row.astype(np.int8), [0]))))
        runs += list(edges[1::2] - edges[0::2])
    assert np.mean(np.array(runs) <= 2) > 0.6


def test_pairs_get_grain_and_crisp_drawings_only_when_asked() -> None:
    """grain_prob=0 and crisp_fraction=0 leave the random stream as it was; with them the pairs differ."""
    plain = PairStream([], 16, 1.0, seed=5)
    same = PairStream([], 16, 1.0, seed=5, grain_prob=0.0, crisp_fraction=0.0)
    grainy = PairStream([], 16, 1.0, seed=5, grain_prob=1.0)
    a, b, c = (next(iter(s))[1].numpy() for s in (plain, same, grainy))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.parametrize(("spec", "shape"), [("vl", (20, 6)), ("8x3", (8, 3)), ("4x0", (4, 0)), ("s", (4, 3)),
                                             ("12x3cd", (12, 3))])
def test_tiers_by_name_or_shape(spec: str, shape: tuple[int, int]) -> None:
    """A name or a shape gives the network, and its multiply-adds are those of the network's own convolutions
    (weights counted, per output pixel of each 3x3 or 1x1 convolution at the source size)."""
    from kizunasr_vs.train.tiers import multiply_adds, tier_of

    tier = tier_of(spec)
    assert (tier.features, tier.body) == shape
    net = arch.build(spec)
    assert multiply_adds(tier) == sum(m.weight.numel() for m in net.modules() if isinstance(m, torch.nn.Conv2d))
    with pytest.raises(ValueError, match="shape FxB"):
        tier_of("8by3")


def test_network_from_onnx_equals_onnxruntime_and_inits_a_run(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """A shipped shader's ONNX loads back into the network (onnxruntime's output, 1e-5) and --init takes it;
    a file of another shape is refused with both shapes named."""
    import onnxruntime as ort

    from kizunasr_vs.train.export import network_from_onnx

    path = Path(__file__).resolve().parents[2] / "kizunasr_vs/train/weights/kizuna_cnn_x2_vl.onnx"
    x = np.random.default_rng(0).random((1, 1, 24, 40), np.float32)
    want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    net = network_from_onnx(path)
    with torch.no_grad():
        got = net(torch.from_numpy(x)).numpy()
    assert (net.tier.features, net.tier.body) == (20, 6)
    np.testing.assert_allclose(got, want, atol=1e-5)
    common = ["--steps", "1", "--batch", "2", "--patch", "8", "--workers", "0", "--lr", "1e-12", "--device", "cpu"]
    assert main(["train", "--tier", "vl", "-o", str(tmp_path / "tuned"), "--init", str(path), *common]) == 0
    tuned = load_checkpoint(checkpoint_path(tmp_path / "tuned", "vl"))
    assert tuned is not None and (tuned["features"], tuned["body"]) == (20, 6)
    torch.testing.assert_close(tuned["model"]["tail.weight"], net.state_dict()["tail.weight"], atol=1e-6, rtol=0)
    assert main(["train", "--tier", "8x3", "-o", str(tmp_path / "other"), "--init", str(path), *common]) == 2
    assert "20x6 (features x body), tier '8x3' is 8x3" in capsys.readouterr().err


def test_a_bank_with_an_h264_share_codes_its_inputs_only() -> None:
    """make_bank's h264_share: the targets stay the stream's, every input (share 1) is what train.codec's
    compress_share makes of the plain bank with the same seed."""
    from kizunasr_vs.train.codec import compress_share
    from kizunasr_vs.train.data import make_bank

    plain_lr, plain_hr = make_bank(PairStream([], 16, 1.0, seed=5), 8, batch=4, workers=0)
    lr, hr = make_bank(PairStream([], 16, 1.0, seed=5), 8, batch=4, workers=0, h264_share=1.0, seed=9)
    assert torch.equal(hr, plain_hr)
    assert torch.equal(lr, compress_share(plain_lr, 1.0, seed=9))
    assert not torch.equal(lr, plain_lr)


def test_a_bank_holds_the_streams_pairs_and_serves_them_turned(tmp_path: Path) -> None:
    """make_bank keeps the stream's first pairs (float16 of the same values); every batch bank_batches serves
    is one of the 8 flips/quarter turns of bank entries, the same turn for LR and HR."""
    from kizunasr_vs.train.data import bank_batches, make_bank

    stream = PairStream([], 8, 1.0, seed=3)
    want = [pair for pair, _ in zip(iter(stream), range(6), strict=False)]
    lr, hr = make_bank(PairStream([], 8, 1.0, seed=3), 6, batch=4, workers=0)
    assert lr.shape == (6, 1, 8, 8) and hr.shape == (6, 1, 16, 16) and lr.dtype == torch.float16
    for i, (w_lr, w_hr) in enumerate(want):
        torch.testing.assert_close(lr[i].float(), w_lr, atol=1e-3, rtol=0)
        torch.testing.assert_close(hr[i].float(), w_hr, atol=1e-3, rtol=0)

    def turns(t: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for k in range(4):
            r = torch.rot90(t, k, (1, 2))
            out += [r, r.flip(2)]
        return out

    seen = set()
    for b_lr, b_hr, _ in zip(*zip(*(next(g) for g in [bank_batches(lr, hr, 5, seed=1)] * 8), strict=True),
                             range(8), strict=False):
        for x_lr, x_hr in zip(b_lr, b_hr, strict=True):
            matches = [(i, j) for i in range(6) for j, (t_lr, t_hr) in enumerate(zip(turns(lr[i].float()),
                                                                                       turns(hr[i].float()),
                                                                                       strict=True))
                       if torch.equal(t_lr, x_lr) and torch.equal(t_hr, x_hr)]
            assert matches, "a served pair is not a turned bank pair"
            seen.add(matches[0][1])
    assert len(seen) > 1  # not always the same turn


@pytest.mark.parametrize(("spec", "width"), [("4x2d", 4), ("4x2cd", 8)])
def test_a_dense_tier_starts_as_the_plain_one_and_compiles_exactly(spec: str, width: int, tmp_path: Path) -> None:
    """FxBd: the tail's 1x1 mix of every earlier layer starts silent (the plain network's output), and with
    weights it compiles to a shader that equals its ONNX on a real picture (onnxruntime against vs-placebo);
    with CReLU (c) every convolution after the first reads twice the features."""
    from kizunasr_vs.train.export import check_luma, glsl_vs_onnx_psnr, network_from_onnx, to_glsl, to_onnx
    from kizunasr_vs.train.tiers import multiply_adds, tier_of

    torch.manual_seed(0)
    dense, plain = arch.build(spec), arch.build(spec[:-1])
    assert dense.tail.in_channels == width + 1 and dense.convs[1].in_channels == width
    plain.load_state_dict({k: v for k, v in dense.state_dict().items() if not k.startswith("mix.")})
    x = torch.rand(1, 1, 12, 20)
    with torch.no_grad():
        torch.testing.assert_close(dense(x), plain(x))
        assert dense.mix is not None
        dense.mix.weight.normal_(0, 0.2)
    assert multiply_adds(tier_of(spec)) == multiply_adds(tier_of(spec[:-1])) + 4 * 2 * width
    onnx_path = to_onnx(dense, tmp_path / "d.onnx")
    loaded = network_from_onnx(onnx_path).tier
    assert loaded.dense and loaded.crelu == ("c" in spec)
    glsl = to_glsl(onnx_path, tmp_path / "d.glsl")
    assert glsl_vs_onnx_psnr(onnx_path, glsl, check_luma(shared_media("realesrgan_0014.jpg"))) >= 45
