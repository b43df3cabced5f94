"""Cluster addresses (`auto`, `ray://host:port`, `host:port`, `local[:N]`) and connecting to Ray."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from kizunasr_vs.cluster.ray_guard import Guard, descendants, kill
from kizunasr_vs.core.errors import KizunaError

log = logging.getLogger(__name__)

# The address of a local instance's node. Where Ray supports clusters (Linux) it replaces 127.0.0.1 by the
# machine's outward address; any other loopback address is kept as given (Linux routes all of 127.0.0.0/8 to the
# loopback device). Elsewhere Ray keeps 127.0.0.1 itself.
LOOPBACK = "127.0.0.2" if sys.platform == "linux" else "127.0.0.1"
# Tries to start a local instance: Ray gives a new node fixed times to come up (30 s to register with its GCS),
# which a machine busy with other work can miss.
LOCAL_STARTS = 3


class ClusterError(KizunaError, RuntimeError):
    """A cluster that cannot be used, or a distributed job that failed; the message says why."""


@dataclass(frozen=True)
class ClusterAddress:
    """Where to run: an existing Ray cluster (``address``) or a local one with ``workers`` workers."""

    address: str | None
    workers: int | None = None

    @property
    def local(self) -> bool:
        return self.address is None


def parse_address(text: str) -> ClusterAddress:
    """``local``, ``local:N``, ``auto``, ``ray://host:port`` or ``host:port``."""
    text = text.strip()
    if text == "local":
        return ClusterAddress(None)
    if text.startswith("local:"):
        count = text.split(":", 1)[1]
        if not count.isdigit() or int(count) < 1:
            raise ClusterError(f"cluster '{text}': the worker count after 'local:' must be a positive integer")
        return ClusterAddress(None, int(count))
    if not text:
        raise ClusterError("empty cluster address; use local, local:N, auto or ray://host:port")
    return ClusterAddress(text)


def import_ray() -> Any:
    """The ray module, or a ClusterError saying how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise ClusterError("Ray is not installed; install the extra: pip install 'kizunasr[cluster]'") from exc
    return ray


def _local_gpus() -> int:
    from kizunasr_vs.core import hardware

    try:
        return hardware.gpu().count
    except Exception:  # noqa: BLE001 - no driver, no GPUs
        return 0


def _start_local(ray: Any, workers: int | None) -> Guard:
    """A new Ray instance on this machine (never one that `ray start` left running, nor $RAY_ADDRESS) on a loopback
    address, token authentication left on; returns the guard that stops its processes when this one ends, however
    it ends (see ``ray_guard``).

    A start that fails (Ray's startup timeouts, on a busy machine) is cleaned up and tried again, up to
    ``LOCAL_STARTS`` times."""
    gpus = _local_gpus()
    cpus = os.cpu_count() or 1
    before = descendants(os.getpid())
    for attempt in range(1, LOCAL_STARTS + 1):
        try:
            ray.init(address="local", num_cpus=max(workers or cpus, cpus), num_gpus=gpus, include_dashboard=False,
                     _node_ip_address=LOOPBACK, log_to_driver=True, logging_level="warning")
            break
        except Exception as exc:  # noqa: BLE001 - ray raises many kinds
            ray.shutdown()
            kill(descendants(os.getpid()) - before)
            if attempt == LOCAL_STARTS:
                raise
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
            log.warning("the local Ray instance did not start (%s); starting it again (%d/%d)", reason, attempt + 1,
                        LOCAL_STARTS)
    return Guard(descendants(os.getpid()) - before)


def plan_slots(gpus: float, cpus: float, workers: int | None = None,
               gpus_per_worker: float | None = None) -> tuple[int, dict[str, float]]:
    """How many chunk workers fit ``gpus`` / ``cpus`` and the Ray resources each one asks for.

    With GPUs, every card takes the same whole number of workers, each asking for 1/k of a GPU (Ray
    places a fractional request on one card, so shares that do not divide a card would leave workers
    that never start): k = 1 / ``gpus_per_worker``, or by default as many as ``workers`` needs per card.
    Without GPUs, one worker per CPU. ``workers`` caps the count either way.
    """
    if workers is not None and workers < 1:
        raise ClusterError(f"the worker count must be at least 1, got {workers}")
    whole_gpus = int(gpus + 1e-6)
    if whole_gpus:
        if gpus_per_worker is not None:
            per_card = round(1 / gpus_per_worker) if gpus_per_worker > 0 else 0
            if not 0 < gpus_per_worker <= 1 or abs(per_card * gpus_per_worker - 1) > 1e-6:
                raise ClusterError(f"--gpus-per-worker must be 1 or 1/k (0.5, 0.333..., 0.25), got {gpus_per_worker}")
        else:
            per_card = -(-workers // whole_gpus) if workers else 1
        slots = per_card * whole_gpus
        return min(slots, workers or slots), {"num_gpus": 1 / per_card, "num_cpus": 0.0}
    slots = max(1, int(cpus))
    return min(slots, workers or slots), {"num_cpus": 1.0}


def worker_slots(workers: int | None = None, gpus_per_worker: float | None = None) -> tuple[int, dict[str, float]]:
    """``plan_slots`` for the connected cluster's resources."""
    resources = import_ray().cluster_resources()
    return plan_slots(float(resources.get("GPU", 0)), float(resources.get("CPU", 1)), workers, gpus_per_worker)


class Terminated(KeyboardInterrupt):
    """SIGTERM to a cluster driver: it stops as on Ctrl-C (running chunks are dropped, finished segments kept for a
    rerun). ``exit_status`` is the shell's code for a SIGTERM death."""

    exit_status = 128 + signal.SIGTERM


@contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """In the block, SIGTERM stops the main thread as Ctrl-C does, raising Terminated (a second SIGTERM ends the
    process at once), instead of Ray's handler, which prints a C++ stack dump and leaves the job's state to chance.

    Ray turns an exception raised by a signal handler while it waits (``ray.get``, ``ray.wait``) into a plain
    KeyboardInterrupt: one that leaves the block after a SIGTERM becomes Terminated again, its message kept."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def stop(signum: int, frame: object) -> None:
        received.append(signum)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise Terminated("stopped by SIGTERM")

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    except KeyboardInterrupt as exc:
        if received and not isinstance(exc, Terminated):
            raise Terminated(str(exc) or "stopped by SIGTERM") from None
        raise
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


@contextmanager
def connect(address: ClusterAddress) -> Iterator[None]:
    """Connected to the cluster for the block, SIGTERM stopping it like Ctrl-C (``stop_on_sigterm``); a local
    instance is started and stopped around it, and its processes stopped even if this one is killed.

    If Ray is already initialised in this process (an embedding application, tests), that
    connection is used as it is and left running.
    """
    ray = import_ray()
    if ray.is_initialized():
        yield
        return
    guard = None
    try:
        if address.local:
            guard = _start_local(ray, address.workers)
        else:
            ray.init(address=address.address, log_to_driver=True, logging_level="warning")
    except Exception as exc:  # noqa: BLE001 - ray raises many kinds
        raise ClusterError(f"cannot start or reach the Ray cluster '{address.address or 'local'}': {exc}") from exc
    try:
        with stop_on_sigterm():
            yield
    finally:
        ray.shutdown()
        if guard is not None:
            guard.close()
