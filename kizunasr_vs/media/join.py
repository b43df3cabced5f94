"""Join finished segments (concat demuxer, stream copy) and mux the source's other streams, atomically (the
cluster's last step; media work, so it lives beside the encoder)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from kizunasr_vs.media.encoder import EncodeError, check_output_path, finishing, source_stream_maps


def _concat_list(segments: list[Path], directory: Path) -> Path:
    listing = directory / "concat.txt"
    lines = ["ffconcat version 1.0"]
    for seg in segments:
        quoted = str(seg.resolve()).replace("'", "'\\''")
        lines.append(f"file '{quoted}'")
    listing.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return listing


def join_command(listing: Path, source: Path, start: float, duration: float, output: Path, muxer: str) -> list[str]:
    """ffmpeg: video from the concat list, audio/subtitles/chapters/fonts from the source, all copied."""
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
           "-f", "concat", "-safe", "0", "-i", str(listing)]
    if start:
        cmd += ["-ss", f"{start:.6f}"]
    cmd += ["-t", f"{duration:.6f}", "-i", str(source), "-map", "0:v:0", "-c:v", "copy"]
    return cmd + source_stream_maps(muxer) + ["-f", muxer, str(output)]


def join_segments(segments: list[Path], source: Path, output: Path, start: float, duration: float,
                  work_dir: Path, overwrite: bool = False) -> Path:
    """Write ``output`` from ``segments`` (in order) and the source's streams; it appears only when complete, and
    replaces an output that exists (or appeared meanwhile) only with ``overwrite`` (else OutputExistsError)."""
    muxer = check_output_path(output)
    listing = _concat_list(segments, work_dir)
    with finishing(output, overwrite) as temp:
        proc = subprocess.run(join_command(listing, source, start, duration, temp, muxer),
                              capture_output=True, text=True)
        if proc.returncode != 0:
            tail = " | ".join(proc.stderr.strip().splitlines()[-5:]) or "(no message)"
            raise EncodeError(f"joining the segments failed (ffmpeg exit {proc.returncode}): {tail}")
    return output
