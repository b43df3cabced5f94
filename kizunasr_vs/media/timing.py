"""When a source shows each frame: the presentation times of its video packets, read by ffprobe without decoding,
on the timeline ffmpeg gives the file (its start at 0), and whether they keep a constant rate.

Encodes place their frames at these times, so the source's audio, subtitles and chapters stay in sync: a source
whose first frame comes after its audio starts, or one of variable frame rate (whose frames an even rate would
move by up to seconds).
"""

from __future__ import annotations

import subprocess
from bisect import bisect_left
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class FrameTimes:
    """``times[n]``: when frame n is shown (seconds, ascending); ``end``: when the last one ends."""

    times: tuple[float, ...]
    end: float

    def span(self, first: int, last: int) -> tuple[float, float]:
        """Where frames [first, last) begin on the timeline, and how long they are shown."""
        stop = self.times[last] if last < len(self.times) else self.end
        return self.times[first], stop - self.times[first]

    def relative(self, first: int, last: int) -> tuple[float, ...]:
        """The times of frames [first, last) from the first one's, and then when the last one ends."""
        stop = self.times[last] if last < len(self.times) else self.end
        return tuple(t - self.times[first] for t in (*self.times[first:last], stop))

    @property
    def variable(self) -> bool:
        """True when an even rate would show some frame more than half a frame away from its time."""
        count = len(self.times)
        if count < 3:
            return False
        step = (self.times[-1] - self.times[0]) / (count - 1)
        return any(abs(t - self.times[0] - i * step) > step / 2 for i, t in enumerate(self.times))

    def frame_at(self, seconds: float) -> int:
        """The first frame shown at or after ``seconds`` (within a millisecond) from the start of the file."""
        return bisect_left(self.times, seconds - 0.001)


def probe_frame_times(path: Path, frames: int) -> FrameTimes | None:
    """The times of the first video stream's ``frames`` frames; None when ffprobe is missing, the packets carry no
    times or their count differs (times then cannot be matched to frames)."""
    try:
        proc = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                               "packet=pts_time,duration_time,flags:format=start_time", "-of", "csv", str(path)],
                              capture_output=True, text=True, timeout=3600)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    start = 0.0
    packets: list[tuple[float, float | None]] = []
    for line in proc.stdout.splitlines():
        section, *values = line.strip().split(",")
        try:
            if section == "format" and values and values[0] != "N/A":
                start = float(values[0])
            elif section == "packet" and "D" not in values[-1]:  # packets an edit list discards show no frame
                packets.append((float(values[0]), float(values[1]) if values[1] != "N/A" else None))
        except (ValueError, IndexError):
            return None
    if len(packets) != frames or not packets:
        return None
    packets.sort()
    times = tuple(pts - start for pts, _ in packets)
    last = packets[-1][1] or (times[-1] - times[-2] if len(times) > 1 else 0.0)
    return FrameTimes(times, times[-1] + last)
