"""Distributed encoding over a Ray cluster: chunked, resumable, joined losslessly by stream copy.

Layering: may import core, shader, onnx, compiler, media, models and profiles; never cli. Ray is imported lazily
(the optional ``cluster`` extra), so importing this package does not need it.
"""

from kizunasr_vs.cluster.address import ClusterAddress, ClusterError, connect, parse_address
from kizunasr_vs.cluster.job import ClusterJob, JobResult, run_job
from kizunasr_vs.cluster.worker import WorkerStatus

__all__ = ["ClusterAddress", "ClusterError", "ClusterJob", "JobResult", "connect", "WorkerStatus",
           "parse_address", "run_job"]
