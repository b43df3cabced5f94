"""Stopping every process of a local Ray instance when the driver that started it ends, even by SIGKILL.

Ray ties its GCS and raylet to the driver, but its agents (``ray::DashboardAgent``, ``ray::RuntimeEnvAgent``)
outlive a killed driver: they wait on the dead GCS and ignore SIGTERM. The guard is a small process in a session of
its own (Ctrl-C and a closed terminal do not reach it), run as ``python ray_guard.py`` with a pipe from the driver
as its input: the driver writes the processes Ray started (``PID START_TIME`` lines) and keeps the pipe open. At
the end of its input (the driver closed the pipe, or died) the guard kills (SIGKILL) those still running and the
processes they started since (Ray's workers under its raylet).

Linux only (processes are found in /proc); elsewhere ``Guard`` does nothing. Standard library only: the guard
runs as a script (isolated: ``-I``), without importing the package.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

Process = tuple[int, int]
"""(pid, start time in clock ticks after boot): a pid alone may have been reused by another process."""

PROC = Path("/proc")


def _parent_and_start(pid: int) -> tuple[int, int] | None:
    """The parent pid and start time of ``pid``; None when there is no such process (or no /proc)."""
    try:
        fields = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), int(fields[19])


def descendants(root: int) -> set[Process]:
    """Every process below ``root`` (children, their children...)."""
    if not PROC.is_dir():
        return set()
    parents: dict[int, list[Process]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (info := _parent_and_start(int(entry.name))) is not None:
            parents.setdefault(info[0], []).append((int(entry.name), info[1]))
    found: set[Process] = set()
    todo = [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child[0])
    return found


def kill(processes: Iterable[Process]) -> None:
    """SIGKILL those of ``processes`` that still run (a pid that now names another process is left alone)."""
    for pid, start in processes:
        info = _parent_and_start(pid)
        if info is not None and info[1] == start:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


class Guard:
    """The driver's side: a guard process that kills ``processes`` once this process ends (``close``, exit or
    SIGKILL). Does nothing where there is no /proc."""

    def __init__(self, processes: Iterable[Process]) -> None:
        self._guard: subprocess.Popen[str] | None = None
        if not PROC.is_dir():
            return
        self._guard = subprocess.Popen([sys.executable, "-I", __file__], stdin=subprocess.PIPE, text=True,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        assert self._guard.stdin is not None
        self._guard.stdin.write("".join(f"{pid} {start}\n" for pid, start in processes))
        self._guard.stdin.flush()

    def close(self, timeout: float = 30.0) -> None:
        """End the guard's input: it kills what still runs of the processes and exits; wait for it."""
        if self._guard is None:
            return
        with contextlib.suppress(BrokenPipeError):
            assert self._guard.stdin is not None
            self._guard.stdin.close()
        try:
            self._guard.wait(timeout)
        except subprocess.TimeoutExpired:
            self._guard.kill()
            self._guard.wait()
        self._guard = None


def main() -> int:
    """The guard: read ``PID START_TIME`` lines until the end of input, then kill those processes."""
    for sig in (signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    watched: list[Process] = []
    for line in sys.stdin:
        pid, start = line.split()
        watched.append((int(pid), int(start)))
    alive = [(pid, start) for pid, start in watched if (info := _parent_and_start(pid)) and info[1] == start]
    later = set().union(*(descendants(pid) for pid, _ in alive))  # what those started after the list was sent
    kill([*watched, *later])
    return 0


if __name__ == "__main__":
    sys.exit(main())
