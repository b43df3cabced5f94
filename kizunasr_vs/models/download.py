"""Downloading models: resumable HTTP(S) with sha256 verification and an atomic move into place."""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tqdm import tqdm

from kizunasr_vs import __version__
from kizunasr_vs.core.errors import KizunaError
from kizunasr_vs.core.files import sha256_file
from kizunasr_vs.models.errors import ChecksumError, DownloadError
from kizunasr_vs.models.registry import ModelEntry
from kizunasr_vs.models.store import store_path

log = logging.getLogger(__name__)

CHUNK = 1 << 16
# Errors worth another try: refused/reset/cut connections, truncated bodies, timeouts. A host name that does not
# resolve is not one of them (see ``_unresolved``).
RETRYABLE = (urllib.error.URLError, ConnectionError, http.client.HTTPException, TimeoutError)


class _Truncated(KizunaError, http.client.IncompleteRead):
    """The server closed the connection before sending the whole body."""


def _source_url(entry: ModelEntry) -> str:
    if entry.url:
        return entry.url
    if entry.path:
        return Path(entry.path).resolve().as_uri()
    raise DownloadError(f"model {entry.name!r} has neither a URL nor a local path to fetch from")


def _open(url: str, offset: int, timeout: float) -> Any:
    """Open the URL, asking for bytes from `offset` on; HTTP 5xx and 429 become retryable errors."""
    req = urllib.request.Request(url, headers={"User-Agent": f"kizunasr/{__version__}"})
    if offset:
        req.add_header("Range", f"bytes={offset}-")
    try:
        return urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code >= 500 or exc.code == 429:
            raise ConnectionError(f"HTTP {exc.code} {exc.reason}") from exc
        raise


def _resumes_at(resp: Any, offset: int) -> bool:
    """True when the response is a 206 continuing exactly at `offset`."""
    if not offset or getattr(resp, "status", None) != 206:
        return False
    return str(resp.headers.get("Content-Range", "")).startswith(f"bytes {offset}-")


def _unresolved(exc: BaseException, entry: ModelEntry, url: str) -> DownloadError | None:
    """A DownloadError saying how to install the model without a network when ``exc`` is a host name that does
    not resolve (offline, no DNS): retrying cannot help. None for other errors."""
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else None
    if not isinstance(reason, socket.gaierror):
        return None
    host = urlsplit(url).hostname or url
    return DownloadError(f"cannot download {entry.name!r}: the host {host} does not resolve ({reason.strerror}; "
                         f"offline?). Without a network, copy {entry.file} here and install it with: kizunasr "
                         f"models import FILE, or set $KIZUNASR_MODELS_DIR to a folder that has it")


def _fail_checksum(entry: ModelEntry, part: Path, found: str, url: str) -> ChecksumError:
    part.unlink(missing_ok=True)
    return ChecksumError(f"download of {entry.name!r} from {url} has the wrong sha256: expected {entry.sha256}, "
                         f"found {found}; nothing was kept")


def _attempt(entry: ModelEntry, url: str, part: Path, timeout: float, bar: tqdm) -> tuple[str, bool]:
    """One download attempt into `part`; returns (sha256 of the whole file, resumed?)."""
    offset = part.stat().st_size if part.exists() else 0
    if entry.size is not None and offset >= entry.size:
        part.unlink()
        offset = 0
    try:
        resp = _open(url, offset, timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # our partial file is not a prefix the server knows: start over
            part.unlink(missing_ok=True)
            raise ConnectionError("server refused the resume range (HTTP 416)") from exc
        raise DownloadError(f"cannot download {entry.name!r} from {url}: HTTP {exc.code} {exc.reason}") from exc
    with resp:
        digest = hashlib.sha256()
        resumed = _resumes_at(resp, offset)
        if resumed:
            log.info("resuming %s at byte %d", entry.name, offset)
            with open(part, "rb") as f:
                while block := f.read(1 << 20):
                    digest.update(block)
        elif offset:
            log.info("server does not resume %s: starting over", entry.name)
            offset = 0
        length = resp.headers.get("Content-Length")
        expected = offset + int(length) if length is not None and length.isdigit() else entry.size
        bar.reset(total=expected)
        bar.update(offset)
        received = offset
        with open(part, "ab" if resumed else "wb") as out:
            while block := resp.read(CHUNK):
                out.write(block)
                digest.update(block)
                received += len(block)
                bar.update(len(block))
                if entry.size is not None and received > entry.size:
                    out.close()
                    raise _fail_checksum(entry, part, f"a file larger than {entry.size} bytes", url)
            out.flush()
            os.fsync(out.fileno())
        if expected is not None and received < expected:
            raise _Truncated(b"", expected - received)
    return digest.hexdigest(), resumed


def fetch(entry: ModelEntry, progress: bool = True, retries: int = 3, *, dest: Path | None = None,
          force: bool = False, timeout: float = 30.0, backoff: float = 1.0) -> Path:
    """Download `entry` into the models directory (or `dest`) and return the installed path.

    The file is written to `<dest>.part`, resumed with `Range` when the server answers 206
    (restarted otherwise), checked against the registry sha256 and moved into place with
    `os.replace`. Connection errors are retried `retries` times with exponential backoff; the
    `.part` file is then kept so that the next fetch resumes. A host name that does not resolve fails at once
    (DownloadError naming `kizunasr models import`). A wrong sha256 deletes the partial file and raises
    ChecksumError. An installed file with the right hash is kept unless `force`.
    """
    dest = dest or store_path(entry)
    if not force and dest.is_file() and sha256_file(dest) == entry.sha256:
        return dest
    url = _source_url(entry)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    last: BaseException | None = None
    with tqdm(total=entry.size, unit="B", unit_scale=True, unit_divisor=1024, desc=entry.name,
              disable=not progress, dynamic_ncols=True, leave=True) as bar:
        for attempt in range(retries + 1):
            if attempt:
                delay = backoff * 2 ** (attempt - 1)
                log.warning("download of %s failed (%s); retry %d/%d in %.1fs", entry.name, last, attempt,
                            retries, delay)
                time.sleep(delay)
            try:
                found, resumed = _attempt(entry, url, part, timeout, bar)
            except RETRYABLE as exc:
                offline = _unresolved(exc, entry, url)
                if offline is not None:
                    raise offline from None
                last = exc
                continue
            if found == entry.sha256:
                os.replace(part, dest)
                return dest
            if resumed:  # the old partial file may be stale: one clean download decides
                log.warning("resumed download of %s has the wrong sha256: starting over", entry.name)
                part.unlink(missing_ok=True)
                last = ChecksumError(f"sha256 {found} after resuming")
                continue
            raise _fail_checksum(entry, part, found, url)
    kept = f"; the partial file {part} is kept, run the fetch again to resume" if part.exists() else ""
    raise DownloadError(f"cannot download {entry.name!r} from {url} after {retries + 1} attempts: {last}{kept}")

