"""Distributed encoding over Ray: a local instance (`--cluster local:N`) and a real two-node cluster on
loopback addresses; lossless equality, chunking, a worker killed mid-chunk, resume, batch failures."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.test_encode_cli import kizunasr as run_cli
from tests.cli.test_encode_cli import make_clip, streams
from tests.conftest import REPO

pytest.importorskip("ray", reason="ray is not installed (pip install 'kizunasr[cluster]')")
pytestmark = [pytest.mark.slow,  # each starts Ray workers
              pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")]

LOOPBACK = "127.0.0.2"  # the node address of a local instance: a loopback address Ray does not replace


def kizunasr(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`python -m kizunasr_vs ARGS` with ``env`` added to this process's environment."""
    return run_cli(*args, env={**os.environ, **(env or {})})


def faulty(*args: str, fail: str = "", hold: str = "", meet: str = "") -> list[str]:
    """The command line of `kizunasr ARGS` whose cluster workers fail the chunks ``fail``, halt the first attempt
    at the chunks ``hold`` and start the chunks ``meet`` together (comma-separated indices; see
    tests/cluster_faults.py)."""
    return [sys.executable, "-m", "tests.cluster_faults", f"--fail={fail}", f"--hold={hold}", f"--meet={meet}", *args]


def kizunasr_failing(*args: str, fail: str) -> subprocess.CompletedProcess:
    """`kizunasr ARGS` whose cluster workers fail the chunks ``fail`` for good."""
    return subprocess.run(faulty(*args, fail=fail), capture_output=True, text=True, cwd=REPO, timeout=900)


def frame_hashes(path: Path) -> list[str]:
    """The md5 of every decoded video frame, in order."""
    out = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v", "-f", "framemd5", "-"],
                         capture_output=True, text=True, check=True).stdout
    return [line.rsplit(",", 1)[1].strip() for line in out.splitlines() if line and not line.startswith("#")]


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 24-frame clip with audio and subtitles, a cheap profile (2x bilinear) and its single-process encode."""
    folder = tmp_path_factory.mktemp("cluster")
    clip = make_clip(folder, 96, 64, 24)
    profile = folder / "tiny.json"
    chain = [{"resize": {"scale": 2, "kernel": "bilinear"}}]
    profile.write_text(json.dumps({"name": "tiny", "description": "test", "requires": {"gpu": False},
                                   "ranges": [{"max_height": None, "realtime": [], "pause": [],
                                               "encode": chain}]}))
    reference = folder / "single.mkv"
    result = kizunasr("encode", str(clip), str(reference), "--profile", str(profile), "--codec", "ffv1")
    assert result.returncode == 0, result.stderr
    return {"clip": clip, "profile": profile, "reference": reference, "dir": folder}


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_local_cluster_ffv1_equals_single_process(media: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "dist.mkv"
    # 24 frames in chunks of 7: 7 + 7 + 7 + 3, every frame exactly once; chunks 0 and 1 start together, so that
    # both workers encode one however fast the first one to start is
    args = faulty("encode", str(media["clip"]), str(out), "--profile", str(media["profile"]), "--codec", "ffv1",
                  "--cluster", "local:2", "--chunk-frames", "7", meet="0,1")
    result = subprocess.run(args, capture_output=True, text=True, cwd=REPO, timeout=900)
    assert result.returncode == 0, result.stderr
    assert "4 chunks, 4 encoded, 0 reused" in result.stderr
    expected = frame_hashes(media["reference"])
    assert len(expected) == 24
    assert frame_hashes(out) == expected
    found = streams(out)
    assert {s["codec_type"] for s in found} == {"video", "audio", "subtitle"}
    video = [s for s in found if s["codec_type"] == "video"][0]
    assert (video["codec_name"], video["width"], video["height"]) == ("ffv1", 192, 128)
    assert leftovers(tmp_path) == []  # work directory removed, no temporary file
    assert f"worker 0 [{LOOPBACK} pid" in result.stderr and f"worker 1 [{LOOPBACK} pid" in result.stderr


def test_failed_chunk_then_resume_encodes_only_missing(media: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "resumed.mkv"
    args = ("encode", str(media["clip"]), str(out), "--profile", str(media["profile"]), "--codec", "ffv1",
            "--cluster", "local:2", "--chunk-frames", "6")
    failed = kizunasr_failing(*args, fail="2")
    assert failed.returncode != 0
    assert media["clip"].name in failed.stderr and "frames 12-17" in failed.stderr
    assert "injected failure" in failed.stderr
    assert not out.exists()
    work = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert len(work) == 1
    kept = len(list(work[0].glob("seg_*.mkv")))
    assert 2 <= kept <= 3  # chunks 0 and 1 (and 3 if it was running) finished; chunk 2 did not

    result = kizunasr(*args)
    assert result.returncode == 0, result.stderr
    assert f"4 chunks, {4 - kept} encoded, {kept} reused" in result.stderr
    assert frame_hashes(out) == frame_hashes(media["reference"])
    assert leftovers(tmp_path) == [] and not work[0].exists()


def test_rerun_with_other_settings_removes_the_interrupted_work_folder(media: dict[str, Path],
                                                                       tmp_path: Path) -> None:
    out = tmp_path / "changed.mkv"
    args = ("encode", str(media["clip"]), str(out), "--profile", str(media["profile"]), "--codec", "ffv1",
            "--cluster", "local:2", "--chunk-frames", "6")
    assert kizunasr_failing(*args, fail="2").returncode != 0
    (old,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    (old / ".seg_000000012_000000018.mkv.0badf00d.partial").write_bytes(b"left by a SIGKILL")
    result = kizunasr(*args, "--end", "20")  # other settings: another work folder
    assert result.returncode == 0, result.stderr
    assert str(old) in result.stderr and "interrupted runs with other settings" in result.stderr
    assert frame_hashes(out) == frame_hashes(media["reference"])[:20]
    assert leftovers(tmp_path) == []


def test_batch_with_a_corrupt_input(media: dict[str, Path], tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    first = shutil.copy(media["clip"], inputs / "ep1.mkv")
    second = shutil.copy(media["clip"], inputs / "ep2.mkv")
    bad = inputs / "ep3_corrupt.mkv"
    bad.write_bytes(os.urandom(4096))
    outs = tmp_path / "out"
    outs.mkdir()
    result = kizunasr("batch", str(first), str(bad), str(second), "--out-dir", str(outs),
                      "--profile", str(media["profile"]), "--codec", "ffv1", "--cluster", "local:2",
                      "--chunk-frames", "12")
    assert result.returncode == 2, result.stderr
    assert sorted(p.name for p in outs.iterdir()) == ["ep1.mkv", "ep2.mkv"]
    assert "2 of 3 inputs encoded" in result.stderr
    assert "FAILED" in result.stderr and "ep3_corrupt.mkv" in result.stderr
    assert frame_hashes(outs / "ep2.mkv") == frame_hashes(media["reference"])


@contextlib.contextmanager
def ray_nodes(cpus: list[int]) -> Iterator[tuple[str, dict[str, str], list[subprocess.Popen]]]:
    """A Ray head on 127.0.0.2 and one more node per further entry of ``cpus`` on 127.0.0.3, 127.0.0.4 ... (with
    that many CPUs each, token authentication on), started with `ray start --block` in their own process groups
    and torn down at the end; yields the address, the driver's env and the nodes' processes.

    Ray replaces 127.0.0.1 by the machine's outward address in a multi-node cluster, so the nodes use
    other loopback addresses; Linux routes all of 127.0.0.0/8 to the loopback device.
    """
    ray_cli = Path(sys.executable).with_name("ray")
    with socket.socket() as probe:
        probe.bind(("127.0.0.2", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(16),
           "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "1", "RAY_USAGE_STATS_ENABLED": "0"}
    temp = tempfile.mkdtemp(prefix="kzray", dir="/tmp")  # short: Ray's socket paths live under it
    address = f"127.0.0.2:{port}"
    nodes: list[subprocess.Popen] = []
    try:
        for i, count in enumerate(cpus):
            where = ["--head", f"--port={port}", "--include-dashboard=false", f"--temp-dir={temp}"] if i == 0 \
                else [f"--address={address}"]
            nodes.append(subprocess.Popen([str(ray_cli), "start", *where, f"--node-ip-address=127.0.0.{i + 2}",
                                           "--block", f"--num-cpus={count}", "--disable-usage-stats"], env=env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
            wait_for_cpus(address, env, sum(cpus[:i + 1]))
        yield address, {k: env[k] for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}, nodes
    finally:
        for node in reversed(nodes):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(node.pid, signal.SIGTERM)
            try:
                node.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(node.pid, signal.SIGKILL)
                node.wait()
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def two_nodes() -> Iterator[tuple[str, dict[str, str]]]:
    """A head and a second node, one CPU each (see ``ray_nodes``): the address and the driver's env."""
    with ray_nodes([1, 1]) as (address, env, _):
        yield address, env


def wait_for_cpus(address: str, env: dict[str, str], cpus: int) -> None:
    """Wait (up to a few minutes) until the cluster at ``address`` has ``cpus`` CPUs: all its nodes joined."""
    code = ("import ray, sys, time\n"
            f"ray.init(address='{address}', logging_level='error')\n"
            "for _ in range(120):\n"
            f"    if ray.cluster_resources().get('CPU', 0) >= {cpus}: sys.exit(0)\n"
            "    time.sleep(0.5)\n"
            "sys.exit(1)\n")
    for _ in range(30):
        if subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=120).returncode == 0:
            return
        time.sleep(1)
    raise RuntimeError(f"the Ray cluster at {address} did not reach {cpus} CPUs")


def test_two_node_cluster_equals_single_process(media: dict[str, Path], two_nodes: tuple[str, dict[str, str]],
                                                tmp_path: Path) -> None:
    address, env = two_nodes
    out = tmp_path / "two_nodes.mkv"
    args = faulty("encode", str(media["clip"]), str(out), "--profile", str(media["profile"]), "--codec", "ffv1",
                  "--cluster", address, "--chunk-frames", "5", meet="0,1")  # a chunk on each node's worker
    result = subprocess.run(args, capture_output=True, text=True, cwd=REPO, env={**os.environ, **env}, timeout=900)
    assert result.returncode == 0, result.stderr
    assert "5 chunks, 5 encoded, 0 reused" in result.stderr  # 5+5+5+5+4
    assert frame_hashes(out) == frame_hashes(media["reference"])
    assert {s["codec_type"] for s in streams(out)} == {"video", "audio", "subtitle"}
    assert "[127.0.0.2 pid" in result.stderr and "[127.0.0.3 pid" in result.stderr  # both nodes worked
    assert leftovers(tmp_path) == []


def test_two_node_cluster_refuses_a_driver_without_the_token(two_nodes: tuple[str, dict[str, str]],
                                                             media: dict[str, Path], tmp_path: Path) -> None:
    address, _ = two_nodes
    result = kizunasr("encode", str(media["clip"]), str(tmp_path / "x.mkv"), "--profile", str(media["profile"]),
                      "--cluster", address, env={"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "wrong"})
    assert result.returncode == 2
    assert f"cannot start or reach the Ray cluster '{address}'" in result.stderr
    assert not (tmp_path / "x.mkv").exists()


def test_worker_killed_mid_chunk_is_retried(media: dict[str, Path], two_nodes: tuple[str, dict[str, str]],
                                            tmp_path: Path) -> None:
    address, env = two_nodes
    out = tmp_path / "killed.mkv"
    args = faulty("encode", str(media["clip"]), str(out), "--profile", str(media["profile"]), "--codec", "ffv1",
                  "--cluster", address, "--chunk-frames", "8", hold="1")
    with subprocess.Popen(args, cwd=REPO, env={**os.environ, **env},
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as driver:
        deadline = time.monotonic() + 300
        held: list[Path] = []
        while not held and driver.poll() is None and time.monotonic() < deadline:
            held = list(tmp_path.glob(".killed.mkv.kizunasr-*/hold-1.pid"))
            time.sleep(0.2)
        assert held, "chunk 1 never reached its halfway point"
        pid = int(held[0].read_text())
        assert pid != driver.pid
        os.kill(pid, signal.SIGKILL)  # the worker process, while it holds chunk 1 (frames 8-15) half encoded
        _, stderr = driver.communicate(timeout=300)
    assert driver.returncode == 0, stderr
    assert "died in chunk 1 (" in stderr and "the chunk goes back in the queue" in stderr
    assert "3 chunks, 3 encoded, 0 reused" in stderr
    assert frame_hashes(out) == frame_hashes(media["reference"])
    assert leftovers(tmp_path) == []


def held_pid(folder: Path, pattern: str, driver: subprocess.Popen, again: bool = False) -> int:
    """The pid a worker wrote into its hold marker (test hook), once it is there. ``again``: the marker is removed,
    so that the chunk's next attempt holds too."""
    deadline = time.monotonic() + 300
    while driver.poll() is None and time.monotonic() < deadline:
        for marker in folder.glob(pattern):
            text = marker.read_text()
            if text:
                if again:
                    marker.unlink()
                return int(text)
        time.sleep(0.2)
    raise AssertionError(f"no worker reached its hold point ({pattern})")


def ancestors(pid: int) -> set[int]:
    """``pid`` and the processes above it."""
    found = set()
    while pid > 1:
        found.add(pid)
        pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    return found


def test_chunk_whose_worker_keeps_dying_fails_the_job(media: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "dies.mkv"
    args = faulty("encode", str(media["clip"]), str(out), "--profile", str(media["profile"]), "--codec", "ffv1",
                  "--cluster", "local:2", "--chunk-frames", "8", hold="1")
    with subprocess.Popen(args, cwd=REPO,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as driver:
        for _ in range(3):  # each attempt at chunk 1 halts halfway, and its worker is killed there
            os.kill(held_pid(tmp_path, ".dies.mkv.kizunasr-*/hold-1.pid", driver, again=True), signal.SIGKILL)
        _, stderr = driver.communicate(timeout=300)
    assert driver.returncode == 2, stderr
    assert stderr.count("died in chunk 1 (") == 2
    assert "chunk 1 (frames 8-15) failed: its worker died 3 times" in stderr
    assert not out.exists()


@pytest.mark.slow
def test_node_lost_mid_chunk_its_chunk_moves(media: dict[str, Path], tmp_path: Path) -> None:
    """A head without CPUs and two one-CPU nodes; the node holding chunk 1 half encoded is killed whole (SIGKILL
    to its raylet and workers). A restart of its worker could only wait for that node: the chunk must move."""
    with ray_nodes([0, 1, 1]) as (address, env, nodes):
        out = tmp_path / "lost.mkv"
        args = faulty("encode", str(media["clip"]), str(out), "--profile", str(media["profile"]), "--codec",
                      "ffv1", "--cluster", address, "--chunk-frames", "8", hold="1")
        with subprocess.Popen(args, cwd=REPO, env={**os.environ, **env},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as driver:
            worker = held_pid(tmp_path, ".lost.mkv.kizunasr-*/hold-1.pid", driver)
            node = next(n for n in nodes[1:] if n.pid in ancestors(worker))
            os.killpg(node.pid, signal.SIGKILL)
            _, stderr = driver.communicate(timeout=300)
    assert driver.returncode == 0, stderr
    assert "died in chunk 1 (" in stderr
    assert "3 chunks, 3 encoded, 0 reused" in stderr
    assert frame_hashes(out) == frame_hashes(media["reference"])
    assert leftovers(tmp_path) == []


def descendants(pid: int) -> set[int]:
    """The processes below ``pid`` now (children, their children...), from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        for child, its_parent in parents.items():
            if its_parent == parent and child not in found:
                found.add(child)
                todo.append(child)
    return found


def running(pids: set[int]) -> dict[int, str]:
    """Those of ``pids`` that still run (not ended, not a zombie), with their command lines."""
    alive = {}
    for pid in pids:
        with contextlib.suppress(OSError, IndexError):
            if (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]) != "Z":
                alive[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:100]
    return alive


def wait_ended(pids: set[int], limit: float = 45.0) -> dict[int, str]:
    """Wait until none of ``pids`` runs, up to ``limit`` seconds (Ray's agents of a killed driver, left alone,
    run on for more than that); returns those still running."""
    deadline = time.monotonic() + limit
    while running(pids) and time.monotonic() < deadline:
        time.sleep(0.5)
    return running(pids)


def test_a_second_job_for_the_same_output_is_refused_while_the_first_runs(media: dict[str, Path],
                                                                         tmp_path: Path) -> None:
    out = tmp_path / "busy.mkv"
    args = ("encode", str(media["clip"]), str(out), "--profile", str(media["profile"]), "--codec", "ffv1",
            "--cluster", "local:2", "--chunk-frames", "8")
    with subprocess.Popen(faulty(*args, hold="1"), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as first:
        worker = held_pid(tmp_path, ".busy.mkv.kizunasr-*/hold-1.pid", first)  # the first job is mid-chunk 1
        (work,) = [p for p in tmp_path.iterdir() if p.is_dir()]
        for other in ((), ("--end", "20")):  # the same settings (the same work folder), then other settings
            second = kizunasr(*args, *other)
            assert second.returncode == 2, second.stderr
            last = second.stderr.strip().splitlines()[-1]
            assert last == (f"kizunasr encode: another job is encoding {out} right now (its work folder {work} is "
                            "in use); wait for it to finish, or write to another output")
            assert work.is_dir() and (work / "hold-1.pid").is_file() and not out.exists()
        os.kill(worker, signal.SIGKILL)  # chunk 1 goes back in the queue: the first job finishes its encode
        _, stderr = first.communicate(timeout=300)
    assert first.returncode == 0, stderr
    assert "3 chunks, 3 encoded, 0 reused" in stderr
    assert frame_hashes(out) == frame_hashes(media["reference"])
    assert leftovers(tmp_path) == []  # its work folder, and the one the refused job made, are gone


def test_sigterm_stops_the_driver_like_ctrl_c_and_its_ray_processes(media: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "term.mkv"
    args = ("encode", str(media["clip"]), str(out), "--profile", str(media["profile"]), "--codec", "ffv1",
            "--cluster", "local:2", "--chunk-frames", "8")
    with subprocess.Popen(faulty(*args, hold="1"), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as driver:
        held_pid(tmp_path, ".term.mkv.kizunasr-*/hold-1.pid", driver)
        (work,) = [p for p in tmp_path.iterdir() if p.is_dir()]
        while not list(work.glob("seg_*.mkv")):  # chunk 0 or 2, on the other worker
            assert driver.poll() is None
            time.sleep(0.2)
        started = descendants(driver.pid)  # Ray's GCS, raylet, agents, workers...
        assert any("DashboardAgent" in line for line in running(started).values())
        driver.send_signal(signal.SIGTERM)
        _, stderr = driver.communicate(timeout=300)
    assert driver.returncode == 143, stderr
    assert "SIGTERM received" not in stderr and "logging.cc" not in stderr  # no C++ stack dump
    last = stderr.strip().splitlines()[-1]
    assert last.startswith(f"kizunasr: {media['clip'].name}: stopped; ") and f"kept in {work}:" in last
    assert wait_ended(started) == {}
    kept = sorted(p.name for p in work.glob("seg_*.mkv"))
    assert kept and not out.exists()
    result = kizunasr(*args)  # the same command goes on from the kept segments
    assert result.returncode == 0, result.stderr
    assert f"3 chunks, {3 - len(kept)} encoded, {len(kept)} reused" in result.stderr
    assert frame_hashes(out) == frame_hashes(media["reference"])


def test_a_killed_driver_leaves_no_ray_process(media: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "killed.mkv"
    args = faulty("encode", str(media["clip"]), str(out), "--profile", str(media["profile"]), "--codec", "ffv1",
                  "--cluster", "local:2", "--chunk-frames", "8", hold="1")
    with subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as driver:
        held_pid(tmp_path, ".killed.mkv.kizunasr-*/hold-1.pid", driver)
        started = descendants(driver.pid)
        assert any("RuntimeEnvAgent" in line for line in running(started).values())
        driver.kill()
        driver.communicate(timeout=60)
    assert wait_ended(started) == {}


def test_a_local_instance_is_on_loopback_without_changing_the_environment() -> None:
    """The local instance's node has a loopback address, set through ray.init's arguments: neither os.environ's
    RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER nor Ray's module constants are changed for it."""
    import ipaddress

    import ray
    from ray._private import ray_constants

    from kizunasr_vs.cluster import ClusterAddress, connect

    flag = ray_constants.ENABLE_RAY_CLUSTER
    with connect(ClusterAddress(None, 1)):
        assert "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER" not in os.environ
        assert ray_constants.ENABLE_RAY_CLUSTER is flag
        addresses = {node["NodeManagerAddress"] for node in ray.nodes() if node["Alive"]}
        assert len(addresses) == 1 and ipaddress.ip_address(addresses.pop()).is_loopback
        assert ipaddress.ip_address(ray.get(ray.remote(ray.util.get_node_ip_address).remote())).is_loopback
    assert not ray.is_initialized() and ray_constants.ENABLE_RAY_CLUSTER is flag
