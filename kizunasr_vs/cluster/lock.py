"""A work folder's lock, held by the job that uses it for the job's whole life: no second job for the same output
encodes into the folder at the same time, or takes it for one that an interrupted run left and deletes it.

The lock is an ``flock`` on ``.lock`` inside the folder: the system drops it when its process ends, however it
ends, so a folder whose lock nobody holds is stale. (No locking on Windows, which has no ``flock``.)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

from kizunasr_vs.cluster.address import ClusterError

if sys.platform != "win32":
    import fcntl

LOCK_FILE = ".lock"


class WorkFolderBusy(ClusterError):
    """Another running job holds the work folder of this output; nothing was changed."""


def _busy_message(output: Path, folder: Path) -> str:
    return (f"another job is encoding {output} right now (its work folder {folder} is in use); wait for it to "
            "finish, or write to another output")


@contextlib.contextmanager
def _locked(folder: Path, exclusive: bool) -> Iterator[bool]:
    """Try to take ``folder``'s lock without waiting, for the block; yields whether it was taken."""
    if sys.platform == "win32":
        yield True
        return
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def in_use(folder: Path) -> bool:
    """True when a running job holds ``folder``'s lock."""
    if not (folder / LOCK_FILE).is_file():  # an older version's folder, or one just being made
        return False
    with _locked(folder, exclusive=False) as taken:
        return not taken


@contextlib.contextmanager
def holding(folder: Path, output: Path, others: list[Path]) -> Iterator[None]:
    """``folder`` (made if need be) and its lock for the block. WorkFolderBusy when another job holds it, or holds
    one of ``others`` (the work folders of other settings for the same ``output``): two jobs would race for the
    output. A refused job leaves no folder behind."""
    made = not folder.is_dir()
    folder.mkdir(exist_ok=True)
    with _locked(folder, exclusive=True) as taken:
        if not taken:
            raise WorkFolderBusy(_busy_message(output, folder))
        busy = next((other for other in others if in_use(other)), None)
        if busy is not None:
            if made:
                shutil.rmtree(folder, ignore_errors=True)
            raise WorkFolderBusy(_busy_message(output, busy))
        yield


def remove_stale(folder: Path) -> bool:
    """Delete ``folder`` unless a running job holds its lock (checked while holding it); True when deleted."""
    if not folder.is_dir():
        return False
    with _locked(folder, exclusive=True) as taken:
        if taken:
            shutil.rmtree(folder, ignore_errors=True)
        return taken
