"""The source's other streams (media/streams.py) and frame times (media/timing.py): cutting subtitle events, and
telling a variable frame rate from a rounded constant one."""

from __future__ import annotations

from pathlib import Path

import pytest

from kizunasr_vs.media.streams import SourceStreams, Subtitle, cut_ass, stream_args
from kizunasr_vs.media.timing import FrameTimes

SCRIPT = """[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
Dialogue: 0,0:00:00.20,0:00:01.50,Default,,0,0,0,,crosses the start
Dialogue: 0,0:00:01.20,0:00:01.40,Default,,0,0,0,,inside
Comment: 0,0:00:01.90,0:00:02.50,Default,,0,0,0,,crosses the end
Dialogue: 0,0:00:02.50,0:00:03.00,Default,,0,0,0,,after, with a comma
Dialogue: 0,0:00:00.00,0:00:01.02,Default,,0,0,0,,ends before it starts
"""


def test_cut_ass_keeps_the_events_shown_in_the_span_cut_to_it() -> None:
    cut = cut_ass(SCRIPT, 1.023, 2.0).splitlines()
    assert cut[:2] == SCRIPT.splitlines()[:2]  # the header stays
    assert cut[2:] == ["Dialogue: 0,0:00:01.03,0:00:01.50,Default,,0,0,0,,crosses the start",
                       "Dialogue: 0,0:00:01.20,0:00:01.40,Default,,0,0,0,,inside",
                       "Comment: 0,0:00:01.90,0:00:02.00,Default,,0,0,0,,crosses the end"]


def test_what_each_container_takes(tmp_path: Path) -> None:
    streams = SourceStreams(1, (Subtitle("ass", {"language": "jpn"}), Subtitle("hdmv_pgs_subtitle")), 2, ())
    mp4 = stream_args(tmp_path / "in.mkv", streams, "mp4", 0.0, 10.0, (False, False), tmp_path)
    assert mp4.maps[mp4.maps.index("-map", 4):][:6] == ["-map", "1:s:0", "-c:s:0", "mov_text", "-metadata:s:s:0",
                                                        "language=jpn"]
    assert "1:s:1" not in mp4.maps and "1:t?" not in mp4.maps
    assert [w.split(":")[0] for w in mp4.warnings] == [
        "subtitle stream 0 (ass) is written as mov_text, the only text subtitles .mp4 holds",
        "1 subtitle stream(s) (hdmv_pgs_subtitle) dropped", "2 attached file(s) (fonts) dropped"]
    mkv = stream_args(tmp_path / "in.mkv", streams, "matroska", 0.5, 10.0, (False, False), tmp_path / "none")
    assert mkv.video_input == ["-itsoffset", "0.500000"] and mkv.span == ["-to", "10.500000"]  # no start cut
    assert not mkv.warnings and "1:t?" in mkv.maps


def test_a_variable_rate_is_told_from_rounded_timestamps() -> None:
    rounded = FrameTimes(tuple(round(n * 1001 / 24000, 3) for n in range(100)), 100 * 1001 / 24000)  # ms (mkv)
    assert not rounded.variable
    mixed = FrameTimes(tuple([n / 24 for n in range(48)] + [2 + n / 60 for n in range(120)]), 4.0)
    assert mixed.variable
    assert mixed.frame_at(3.0) == 48 + 60 and mixed.span(48, 108) == (2.0, 1.0)
    assert mixed.relative(166, 168) == pytest.approx((0.0, 1 / 60, 2 / 60))
