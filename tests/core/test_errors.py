"""One error root: every exception class kizunasr_vs defines derives from KizunaError (keeping its built-in base),
and the command line prints an uncaught one as one line, exit status 2."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest
import vapoursynth as vs

import kizunasr_vs
from kizunasr_vs import KizunaError
from kizunasr_vs.cli import doctor
from kizunasr_vs.cli.main import main

OPTIONAL = {"torch", "ray", "mpv"}  # extras: a module that needs a missing one is skipped
SIGNALS = {"kizunasr_vs.mpv.pause_job.StaleJob"}  # control flow, not errors: no KizunaError handler may catch them


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
            "kizunasr_vs.media.encoder.EncodeError"} <= set(classes)
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
