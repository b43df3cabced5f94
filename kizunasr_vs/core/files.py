"""Files: writing them so that readers never see half of one, and hashing them."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import glob
import hashlib
import os
import secrets
import stat
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from kizunasr_vs.core.errors import InputError

if sys.platform != "win32":
    import fcntl


RENAME_NOREPLACE = 1  # renameat2's flag (Linux 3.15+)
AT_FDCWD = -100


def _renameat2_noreplace(src: Path, dst: Path) -> bool:
    """Rename ``src`` to ``dst`` with renameat2(RENAME_NOREPLACE); False where the C library, kernel or filesystem
    lacks it. FileExistsError when ``dst`` exists."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    if renameat2(AT_FDCWD, os.fsencode(src), AT_FDCWD, os.fsencode(dst), RENAME_NOREPLACE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(dst))  # EEXIST makes a FileExistsError


def move_no_replace(src: Path, dst: Path) -> None:
    """Rename ``src`` to ``dst`` unless something is there (FileExistsError, ``dst`` untouched): at once with
    renameat2(RENAME_NOREPLACE), else by a hard link and the unlink of ``src``; on a filesystem without hard links
    (SMB, some FUSE mounts) by a check and a rename, which leaves a moment between the two."""
    if _renameat2_noreplace(src, dst):
        return
    try:
        os.link(src, dst)  # FileExistsError when dst exists
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS, errno.EMLINK):
            raise
        if os.path.lexists(dst):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(dst)) from None
        os.rename(src, dst)
        return
    os.unlink(src)


@contextlib.contextmanager
def replacing(path: Path, suffix: str = ".tmp", overwrite: bool = True) -> Iterator[Path]:
    """A temporary file beside ``path`` (``.NAME.XXXXXXXX<suffix>``) for the block to write, by name if need be
    (ffmpeg); it replaces ``path`` with ``os.replace`` when the block ends, and is removed if the block raises.
    Without ``overwrite``, a file that appeared at ``path`` meanwhile is kept: FileExistsError, and the temporary
    file is removed.

    The result has the mode a plain ``open`` would give a new file (0o666 less the umask), or the mode of the
    file it replaces. The temporary file stays locked while it is written, so that ``remove_stale`` can tell
    one left by a killed process from one still being written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}{suffix}")
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
            break
        except FileExistsError:
            continue
    try:
        if sys.platform != "win32":
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield temp
        if overwrite:
            with contextlib.suppress(FileNotFoundError):
                os.chmod(temp, stat.S_IMODE(path.stat().st_mode))
            os.replace(temp, path)
        else:
            move_no_replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)


def remove_stale(folder: Path, name: str, suffix: str) -> list[Path]:
    """Remove the temporary files ``replacing(folder / name, suffix)`` left behind when its process was killed
    (SIGKILL, power loss); files still being written are kept. Returns the removed paths."""
    removed: list[Path] = []
    if sys.platform == "win32":
        return removed
    for temp in folder.glob(f".{glob.escape(name)}.*{glob.escape(suffix)}"):
        try:
            fd = os.open(temp, os.O_WRONLY)  # (flock on NFS is a write lock: it needs a writable descriptor)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            temp.unlink(missing_ok=True)
            removed.append(temp)
        except OSError:  # locked: a live writer
            pass
        finally:
            os.close(fd)
    return removed


def check_output(output: Path, inputs: Iterable[Path] = (), overwrite: bool = False) -> None:
    """Raise InputError when ``output`` is a folder, or writing it would destroy one of ``inputs`` (the same file
    through any symbolic or hard link: always refused) or another existing file (refused unless ``overwrite``)."""
    try:
        found = output.stat()
    except FileNotFoundError:
        return
    if stat.S_ISDIR(found.st_mode):
        raise InputError(f"output '{output}' is a folder; give a file name")
    for source in inputs:
        with contextlib.suppress(OSError):
            if os.path.samestat(found, source.stat()):
                raise InputError(f"output '{output}' is the input '{source}'; writing it would destroy the "
                                 "source: choose another output file")
    if not overwrite:
        raise InputError(f"output '{output}' exists; add --overwrite (or -y) to replace it")


def write_atomic(path: Path, data: bytes | str) -> Path:
    """Write ``data`` (text is UTF-8) to ``path`` through ``replacing``: readers see the old file or the new one,
    never half of one; a new file follows the umask, a replaced one keeps its mode."""
    with replacing(path) as temp:
        temp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()
