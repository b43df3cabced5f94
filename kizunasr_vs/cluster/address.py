"""Cluster addresses (`auto`, `ray://host:port`, `host:port`, `local[:N]`) and connecting to Ray."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from kizunasr_vs.core.errors import KizunaError

# Ray takes the loopback address as the node IP (and binds its servers there) only when this is off.
_LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


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


def _start_local(ray: Any, workers: int | None) -> None:
    """A Ray instance on this machine, reachable on 127.0.0.1 only, token authentication left on."""
    os.environ[_LOOPBACK_ENV] = "0"
    from ray._private import ray_constants

    ray_constants.ENABLE_RAY_CLUSTER = False  # in case ray was imported before the variable was set
    gpus = _local_gpus()
    cpus = os.cpu_count() or 1
    ray.init(num_cpus=max(workers or cpus, cpus), num_gpus=gpus, include_dashboard=False,
             _node_ip_address="127.0.0.1", log_to_driver=True, logging_level="warning")


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


@contextmanager
def connect(address: ClusterAddress) -> Iterator[None]:
    """Connected to the cluster for the block; a local instance is started and stopped around it.

    If Ray is already initialised in this process (an embedding application, tests), that
    connection is used as it is and left running.
    """
    ray = import_ray()
    if ray.is_initialized():
        yield
        return
    previous = os.environ.get(_LOOPBACK_ENV)
    try:
        if address.local:
            _start_local(ray, address.workers)
        else:
            ray.init(address=address.address, log_to_driver=True, logging_level="warning")
    except Exception as exc:  # noqa: BLE001 - ray raises many kinds
        raise ClusterError(f"cannot start or reach the Ray cluster '{address.address or 'local'}': {exc}") from exc
    try:
        yield
    finally:
        ray.shutdown()
        if address.local:
            if previous is None:
                os.environ.pop(_LOOPBACK_ENV, None)
            else:
                os.environ[_LOOPBACK_ENV] = previous
