"""Join finished segments (concat demuxer, stream copy) and mux the source's other streams, atomically (the
cluster's last step; media work, so it lives beside the encoder)."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from kizunasr_vs.media.encoder import EncodeError, EncodeSettings, check_output_path, finishing, other_streams
from kizunasr_vs.media.playable import UnplayableError, check_playable
from kizunasr_vs.media.streams import StreamArgs


def _concat_list(segments: list[Path], directory: Path) -> Path:
    listing = directory / "concat.txt"
    lines = ["ffconcat version 1.0"]
    for seg in segments:
        quoted = str(seg.resolve()).replace("'", "'\\''")
        lines.append(f"file '{quoted}'")
    listing.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return listing


def join_command(listing: Path, output: Path, muxer: str, streams: StreamArgs) -> list[str]:
    """ffmpeg: video from the concat list, the source's other streams as ``streams`` says (media/streams.py)."""
    cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *streams.video_input,
           "-f", "concat", "-safe", "0", "-i", str(listing), *streams.inputs, "-map", "0:v:0", "-c:v", "copy"]
    return cmd + streams.maps + streams.span + ["-f", muxer, str(output)]


def join_segments(segments: list[Path], output: Path, settings: EncodeSettings, work_dir: Path,
                  overwrite: bool = False, frames: int | None = None) -> Path:
    """Write ``output`` from ``segments`` (in order) and the other streams of ``settings.copy_streams_from`` for
    the span ``settings`` gives; it appears only when complete (and, given the number of ``frames``, when its video
    decodes into them), and replaces an output that exists (or appeared meanwhile) only with ``overwrite`` (else
    OutputExistsError)."""
    muxer = check_output_path(output)
    listing = _concat_list(segments, work_dir)
    with tempfile.TemporaryDirectory(prefix="kizunasr-") as folder, finishing(output, overwrite) as temp:
        streams = other_streams(settings, muxer, Path(folder)) or StreamArgs()
        proc = subprocess.run(join_command(listing, temp, muxer, streams), capture_output=True, text=True)
        if proc.returncode != 0:
            tail = " | ".join(proc.stderr.strip().splitlines()[-5:]) or "(no message)"
            raise EncodeError(f"joining the segments failed (ffmpeg exit {proc.returncode}): {tail}")
        if frames is not None:
            try:
                check_playable(temp, frames)
            except UnplayableError as exc:
                raise EncodeError(f"{exc}; nothing was written to '{output}'") from None
    return output
