"""`kizunasr models`: list, fetch, verify, locate and import upscaling models."""

from __future__ import annotations

import argparse
import sys

from kizunasr_vs.core.errors import InputError
from kizunasr_vs.models import download, store
from kizunasr_vs.models.errors import ModelError, unknown_message
from kizunasr_vs.models.registry import ModelEntry, load_registry

OK, FAILED = 0, 2  # FAILED: some of the models named failed (the others were done); see cli/main.py


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register `models` and its actions on the top-level sub-parsers."""
    p = sub.add_parser("models", help="list, download, verify, locate and import upscaling models")
    actions = p.add_subparsers(dest="models_action", required=True, metavar="ACTION")
    actions.add_parser("list", help="known models, their size, and whether they are installed")
    f = actions.add_parser("fetch", help="download models (resumable, sha256-checked)")
    f.add_argument("names", nargs="+", metavar="NAME")
    f.add_argument("--force", action="store_true", help="download again even when installed and intact")
    f.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    f.add_argument("--retries", type=int, default=3, help="retries on connection errors (default 3)")
    v = actions.add_parser("verify", help="check installed models against their sha256 (all installed if none named)")
    v.add_argument("names", nargs="*", metavar="NAME")
    pa = actions.add_parser("path", help="print the file path of an installed model")
    pa.add_argument("name", metavar="NAME")
    i = actions.add_parser("import", help="copy a local model file into the models directory")
    i.add_argument("file", metavar="FILE")
    i.add_argument("--name", help="register under this name (default: the matching known model, or the file name)")
    i.add_argument("-y", "--overwrite", action="store_true",
                   help="replace a model file of that name with other content")
    p.set_defaults(run=run)


def _err(msg: str) -> None:
    print(f"kizunasr models: {msg}", file=sys.stderr)


def _size(n: int | None) -> str:
    if n is None:
        return "?"
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.0f} kB"


def _check_mark() -> str:
    try:
        "✓".encode(sys.stdout.encoding or "ascii")
        return "✓"
    except (UnicodeEncodeError, LookupError):
        return "yes"


def _entries(registry: dict[str, ModelEntry], names: list[str]) -> list[ModelEntry]:
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise InputError(unknown_message(unknown, list(registry)))
    return [registry[n] for n in dict.fromkeys(names)]


def _list(registry: dict[str, ModelEntry]) -> int:
    mark = _check_mark()
    rows = [("NAME", "SIZE", "INSTALLED", "SUITS", "LICENSE")]
    for e in registry.values():
        path = store.installed_path(e)
        ok = path is not None and (e.size is None or path.stat().st_size == e.size)
        state = mark if ok else ("wrong size" if path is not None else "missing")
        suits = f"{e.suits[0]}-{e.suits[1]}p" if e.suits else "any"
        rows.append((e.name + (" (user)" if e.source == "user" else ""), _size(e.size), state, suits, e.license))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    for r in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
    print(f"\nmodels directory: {store.models_dir()}")
    return OK


def _fetch(entries: list[ModelEntry], args: argparse.Namespace) -> int:
    rc = OK
    for e in entries:
        if not args.force and store.check(e) is store.State.OK:
            print(f"{e.name}: already installed at {store.installed_path(e)}")
            continue
        try:
            path = download.fetch(e, progress=args.progress, retries=args.retries, force=args.force)
        except (ModelError, OSError) as exc:
            _err(f"{e.name}: {exc}")
            rc = FAILED
            continue
        print(f"{e.name}: installed at {path}")
    return rc


def _verify(registry: dict[str, ModelEntry], entries: list[ModelEntry], named: bool) -> int:
    rc = OK
    if not named:
        entries = [e for e in registry.values() if store.installed_path(e) is not None]
        if not entries:
            print(f"no models installed in {store.models_dir()}")
            return OK
    for e in entries:
        state = store.check(e)
        if state is store.State.OK:
            print(f"{e.name}: ok ({store.installed_path(e)})")
        elif state is store.State.MISSING:
            _err(store.missing_message(e))
            rc = FAILED
        else:
            _err(f"{e.name}: {store.installed_path(e)} does not match sha256 {e.sha256}; "
                 f"download it again with: kizunasr models fetch --force {e.name}")
            rc = FAILED
    return rc


def _import(args: argparse.Namespace) -> int:
    entry = store.import_file(args.file, args.name, args.overwrite)
    print(f"{entry.name}: installed at {store.store_path(entry)}")
    return OK


def run(args: argparse.Namespace) -> int:
    """Run one `kizunasr models` action; 0 ok, 2 (FAILED) when a model named failed; errors are raised."""
    registry = load_registry()
    action = args.models_action
    if action == "list":
        return _list(registry)
    if action == "import":
        return _import(args)
    names = [args.name] if action == "path" else list(args.names)
    entries = _entries(registry, names)
    if action == "fetch":
        return _fetch(entries, args)
    if action == "verify":
        return _verify(registry, entries, bool(names))
    print(store.model_path(args.name))
    return OK
