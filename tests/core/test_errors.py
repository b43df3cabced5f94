"""One error policy: every exception class kizunasr_vs defines derives from KizunaError (keeping its built-in
base), filter errors are FilterErrors bound to their filter, and the command line prints an uncaught one as one
line, exit status 2."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import pytest
import vapoursynth as vs

import kizunasr_vs
from kizunasr_vs import KizunaError
from kizunasr_vs.cli import doctor
from kizunasr_vs.cli.main import main
from kizunasr_vs.core.errors import FilterError, InputError, NotFound
from tests.conftest import REPO

OPTIONAL = {"torch", "ray", "mpv"}  # extras: a module that needs a missing one is skipped
# control flow, not errors: no KizunaError handler may catch them
SIGNALS = {"kizunasr_vs.mpv.pause_job.StaleJob", "kizunasr_vs.cluster.address.Terminated"}


def error_classes() -> dict[str, type[BaseException]]:
    """Every exception class defined at module level in kizunasr_vs, by qualified name."""
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(kizunasr_vs.__path__, "kizunasr_vs."):
        if info.name.endswith("__main__"):  # runs the command line when imported
            continue
        try:
            module = importlib.import_module(info.name)
        except ImportError as exc:
            if (exc.name or "").split(".")[0] in OPTIONAL:
                continue
            raise
        for name, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__ == module.__name__:
                found[f"{module.__name__}.{name}"] = obj
    return found


def test_every_error_class_derives_from_kizuna_error() -> None:
    classes = error_classes()
    assert {"kizunasr_vs.profiles.loader.ProfileError", "kizunasr_vs.models.errors.ModelError",
            "kizunasr_vs.cluster.address.ClusterError", "kizunasr_vs.compiler.errors.CompileError",
            "kizunasr_vs.media.errors.EncodeError"} <= set(classes)
    outside = sorted(name for name, cls in classes.items() if not issubclass(cls, KizunaError) and name not in SIGNALS)
    assert all(not issubclass(classes[name], KizunaError) for name in SIGNALS if name in classes)
    assert outside == [], f"derive these from kizunasr_vs.core.errors.KizunaError: {outside}"


def test_error_classes_keep_their_builtin_bases() -> None:
    from kizunasr_vs.media.encoder import EncodeError
    from kizunasr_vs.models.errors import ModelMissingError
    from kizunasr_vs.profiles.loader import ProfileError
    from kizunasr_vs.render.source import TextureTooLarge

    assert issubclass(ProfileError, ValueError) and issubclass(EncodeError, RuntimeError)
    assert issubclass(ModelMissingError, FileNotFoundError) and issubclass(TextureTooLarge, vs.Error)


def test_cli_prints_an_uncaught_kizuna_error_as_one_line(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    def fails(_args: object) -> int:
        raise KizunaError("the profile 'x' has no range for 720p")

    monkeypatch.setattr(doctor, "run", fails)
    assert main(["doctor"]) == 2
    assert capsys.readouterr().err == "kizunasr doctor: the profile 'x' has no range for 720p\n"


def _yuv() -> vs.VideoNode:
    return vs.core.std.BlankClip(format=vs.YUV420P8, width=16, height=12, length=1)


def test_filter_errors_are_kizuna_errors_bound_to_their_filter() -> None:
    """As vstools binds its errors to a func: the filter that failed, in ``func`` and first in the message; a
    VapourSynth error inside a filter comes back bound too."""
    cases = [(lambda: kizunasr_vs.shader(_yuv(), "no_such_shader.glsl"), "shader", "shader: shader "),
             (lambda: kizunasr_vs.onnx(_yuv(), b"not onnx"), "onnx", "onnx: cannot read model"),
             (lambda: kizunasr_vs.upscale(_yuv(), target="big"), "upscale", "upscale: target 'big'"),
             (lambda: kizunasr_vs.upscale(_yuv().resize.Point(format=vs.YUV410P8), "performance", target=(104, 80)),
              "upscale", "upscale: Resize error")]  # 4:1:0 chroma cannot hold the fitted 104x78: zimg's error
    for call, func, start in cases:
        with pytest.raises(FilterError) as info:
            call()
        assert isinstance(info.value, KizunaError) and isinstance(info.value, vs.Error)
        assert info.value.func == func and str(info.value).startswith(start), str(info.value)


def test_a_filter_error_keeps_the_innermost_filter_and_reads_outside_in() -> None:
    error = FilterError("the clip is too small")
    error.bind("shader").bind("upscale")
    assert error.func == "shader" and str(error) == "upscale: shader: the clip is too small"
    named = FilterError("shader 'x.glsl': no //!HOOK").bind("shader")  # names the filter already: kept
    assert str(named) == "shader 'x.glsl': no //!HOOK"


def test_user_facing_builtin_errors_are_kizuna_errors_with_their_old_base() -> None:
    from kizunasr_vs.core.resources import shader_path
    from kizunasr_vs.profiles.upscale import parse_target

    with pytest.raises(NotFound) as missing:
        shader_path("no_such_shader")
    assert isinstance(missing.value, FileNotFoundError)
    with pytest.raises(InputError) as bad:
        parse_target("big")
    assert isinstance(bad.value, ValueError)


def test_no_message_names_its_filter_by_hand() -> None:
    """The decorator (or ``FilterError(..., func)``) adds "shader: " / "onnx: " / "upscale: "; no message in the
    package writes it itself (where it would be doubled, or stripped off again)."""
    hand = re.compile(r"""(FilterError|vs\.Error)\(\s*f?["'](\{WHO\}|shader|onnx|upscale|kizunasr): """)
    found = [f"{path.relative_to(REPO)}:{text[:m.start()].count(chr(10)) + 1}"
             for path in sorted((REPO / "kizunasr_vs").rglob("*.py"))
             for text in [path.read_text(encoding="utf-8")] for m in hand.finditer(text)]
    assert found == []
