"""Cluster addresses (`auto`, `ray://host:port`, `host:port`, `local[:N]`) and connecting to Ray."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

# Ray takes the loopback address as the node IP (and binds its servers there) only when this is off.
_LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


class ClusterError(RuntimeError):
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
    from kizunasr_vs.runtime.hardware import nvidia_gpus

    try:
        return len(nvidia_gpus())
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


def worker_slots(workers: int | None = None, gpus_per_worker: float | None = None) -> tuple[int, dict[str, float]]:
    """How many chunk workers to start on the connected cluster and the Ray resources each one asks for.

    With GPUs, each worker takes ``gpus_per_worker`` of a GPU (0.5: two per card); by default one,
    or the share that fits ``workers`` on the cluster's GPUs. Without GPUs, one worker per CPU.
    ``workers`` caps the count either way.
    """
    ray = import_ray()
    resources = ray.cluster_resources()
    gpus = float(resources.get("GPU", 0))
    if gpus_per_worker is not None and not 0 < gpus_per_worker <= 1:
        raise ClusterError(f"--gpus-per-worker must be in (0, 1], got {gpus_per_worker}")
    if gpus:
        share = gpus_per_worker or (min(1.0, gpus / workers) if workers else 1.0)
        slots = int(gpus / share + 1e-6)
        return max(1, min(slots, workers or slots)), {"num_gpus": share, "num_cpus": 0.0}
    slots = max(1, int(resources.get("CPU", 1)))
    return min(slots, workers or slots), {"num_cpus": 1.0}


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
