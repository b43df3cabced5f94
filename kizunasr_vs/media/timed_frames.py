"""Frames with their own times for ffmpeg: raw 4:2:0 frames in a Matroska stream, each in a block with its
timestamp and duration (ffmpeg reads it from a pipe as ``-f matroska``).

Y4M, what encodes otherwise pipe, has one frame rate for all frames; a variable-frame-rate source needs each
frame's time (media/timing.py) to stay in sync with its audio. The Matroska elements are the few a raw video
track needs (EBML header, Segment of unknown size, Info, Tracks, one Cluster per frame).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import IO

import numpy as np
import vapoursynth as vs

TICKS_PER_SECOND = 1_000_000  # TimestampScale 1000 ns: microsecond timestamps
FOURCC = {vs.YUV420P8: b"I420", vs.YUV420P10: b"Y3\x0b\x0a"}  # ffmpeg's raw tags for yuv420p, yuv420p10le
UNKNOWN_SIZE = b"\x01\xff\xff\xff\xff\xff\xff\xff"


def _id(element: int) -> bytes:
    return element.to_bytes((element.bit_length() + 7) // 8, "big")


def _size(length: int) -> bytes:
    return b"\x01" + length.to_bytes(7, "big")  # an 8-byte EBML size


def _element(element: int, payload: bytes) -> bytes:
    return _id(element) + _size(len(payload)) + payload


def _uint(element: int, value: int) -> bytes:
    return _element(element, value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


def _text(element: int, value: str) -> bytes:
    return _element(element, value.encode())


def stream_header(width: int, height: int, fmt: int) -> bytes:
    """The EBML header, the start of a Segment of unknown size, Info and one raw video track."""
    ebml = _element(0x1A45DFA3, _uint(0x4286, 1) + _uint(0x42F7, 1) + _uint(0x42F2, 4) + _uint(0x42F3, 8)
                    + _text(0x4282, "matroska") + _uint(0x4287, 4) + _uint(0x4285, 2))
    info = _element(0x1549A966, _uint(0x2AD7B1, 1_000_000_000 // TICKS_PER_SECOND) + _text(0x4D80, "kizunasr"))
    video = _uint(0xB0, width) + _uint(0xBA, height) + _element(0x2EB524, FOURCC[fmt])
    track = _uint(0xD7, 1) + _uint(0x73C5, 1) + _uint(0x83, 1) + _text(0x86, "V_UNCOMPRESSED") + _uint(0x9C, 0)
    return ebml + _id(0x18538067) + UNKNOWN_SIZE + info + _element(0x1654AE6B, _element(0xAE, track + _element(
        0xE0, video)))


def _frame_bytes(frame: vs.VideoFrame) -> list[bytes]:
    return [np.asarray(frame[p]).tobytes() for p in range(frame.format.num_planes)]


def write_timed_frames(clip: vs.VideoNode, out: IO[bytes], times: Sequence[float],
                       progress: Callable[[int, int], None] | None = None) -> None:
    """Write ``clip`` (YUV420P8 or YUV420P10) to ``out``, frame n shown from ``times[n]`` to ``times[n + 1]``
    seconds (``times`` has one more entry than the clip has frames: when the last frame ends)."""
    assert clip.format is not None and len(times) == clip.num_frames + 1
    out.write(stream_header(clip.width, clip.height, clip.format.id))
    ticks = [round(t * TICKS_PER_SECOND) for t in times]
    for n, frame in enumerate(clip.frames(close=True)):
        planes = _frame_bytes(frame)
        data = sum(len(p) for p in planes)
        block_head = b"\x81" + struct.pack(">h", 0) + b"\x00"  # track 1, no offset from the cluster, no flags
        block = _id(0xA1) + _size(len(block_head) + data) + block_head
        duration = _uint(0x9B, max(1, ticks[n + 1] - ticks[n]))
        group_size = len(block) + data + len(duration)
        cluster_head = _uint(0xE7, ticks[n]) + _id(0xA0) + _size(group_size)
        out.write(_id(0x1F43B675) + _size(len(cluster_head) + group_size) + cluster_head + block)
        for plane in planes:
            out.write(plane)
        out.write(duration)
        if progress is not None:
            progress(n + 1, clip.num_frames)
