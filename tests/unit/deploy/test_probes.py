"""What `make bench` reads of the service processes from outside (`mash_tools.probes`):
CPU time from /proc/<pid>/stat, the event loop from /proc/<pid>/maps, py-spy profiles."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mash_tools import probes

# a /proc/<pid>/stat line whose command name holds spaces and parentheses; utime 4321,
# stime 1234 (fields 14 and 15)
STAT = (
    "4242 (uvicorn (x) y) S 1 4242 4242 0 -1 4194560 51234 0 12 0 4321 1234 0 0 20 0 "
    "7 0 123456 456789012 30000 18446744073709551615 1 1 0 0 0 0 0 16781312 134234626 "
    "0 0 0 17 1 0 0 0 0 0\n"
)


def test_utime_and_stime_are_counted_from_the_last_parenthesis() -> None:
    assert probes.parse_stat(STAT) == (4321, 1234)


@pytest.mark.parametrize("text", ["", "4242 (short) S 1 2 3", "no parenthesis at all"])
def test_what_is_not_a_stat_line_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not the text"):
        probes.parse_stat(text)


def test_a_process_cpu_is_what_the_kernel_counts_for_it() -> None:
    """The bench's reading of a process equals the process's own count of its CPU time
    (the same kernel counters; /proc in clock ticks), after some work of its own."""
    began = time.process_time()
    while time.process_time() - began < 0.2:
        sum(range(10_000))
    mine = probes.cpu_seconds(os.getpid())
    assert mine == pytest.approx(time.process_time(), abs=0.05)
    assert mine >= 0.2


def test_cpu_per_unit_is_split_by_process_and_summed() -> None:
    before = {"intake": 10.0, "triage": 20.0, "gone": 1.0}
    after = {"intake": 10.5, "triage": 21.0, "late": 9.0}
    spent = probes.per_unit_ms(before, after, 100)
    assert spent == pytest.approx({"intake": 5.0, "triage": 10.0, "all": 15.0})
    with pytest.raises(ValueError, match="positive"):
        probes.per_unit_ms(before, after, 0)


@pytest.fixture
def busy_python() -> Iterator[subprocess.Popen[str]]:
    """A Python process that imports uvloop, says so, then computes until stopped."""
    code = "import uvloop, sys\nprint('ready', flush=True)\nwhile True:\n    sum(range(10000))\n"
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    yield process
    process.kill()
    process.wait()


def test_the_event_loop_is_read_from_the_libraries_a_process_has_loaded(
    busy_python: subprocess.Popen[str],
) -> None:
    assert probes.event_loop(busy_python.pid) == "uvloop"
    mine = "uvloop" if "uvloop.loop" in sys.modules else "asyncio"
    assert probes.event_loop(os.getpid()) == mine


def a_second_of(profiler: probes.Profiler, label: str, pid: int) -> str:
    """What the profiler says of a second's recording of the process `pid`."""
    assert profiler.start(label, {"busy": pid}) == []
    began = time.monotonic()
    while time.monotonic() - began < 1.0:  # let it take some samples
        time.sleep(0.1)
    [line] = profiler.stop()
    return line


def test_a_profile_is_a_flame_graph_or_says_why_not(
    busy_python: subprocess.Popen[str], tmp_path: Path
) -> None:
    line = a_second_of(probes.Profiler(tmp_path / "profiles"), "burst", busy_python.pid)
    graph = tmp_path / "profiles" / "burst-busy.svg"
    if graph.exists():
        assert line == f"burst-busy: {graph}"
        assert "<svg" in graph.read_text()[:2000]
    else:  # ptrace refused on this machine: the bench says so
        assert "no flame graph (py-spy cannot attach here" in line


def test_a_raw_profile_is_collapsed_stacks_with_their_samples(
    busy_python: subprocess.Popen[str], tmp_path: Path
) -> None:
    profiler = probes.Profiler(tmp_path / "profiles", raw=True)
    line = a_second_of(profiler, "steady", busy_python.pid)
    stacks = tmp_path / "profiles" / "steady-busy.txt"
    if stacks.exists():
        assert line == f"steady-busy: {stacks}"
        first = stacks.read_text().splitlines()[0]
        frames, samples = first.rsplit(" ", 1)
        assert int(samples) > 0
        assert ";" in frames or "(" in frames  # frames as `function (file:line)`
    else:  # ptrace refused on this machine: the bench says so
        assert "no flame graph (py-spy cannot attach here" in line


def test_a_refused_ptrace_is_named_as_such() -> None:
    refused = b"Error: Permission Denied: Try running again with elevated permissions\n"
    assert probes.why(refused).startswith("py-spy cannot attach here (ptrace refused)")
    assert probes.why(b"") == "no output"
    assert probes.why(b"Error: Failed to find python version\n") == (
        "Error: Failed to find python version"
    )


def test_without_py_spy_the_profiler_says_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(probes, "py_spy", lambda: None)
    [problem] = probes.Profiler(tmp_path).start("burst", {"x": os.getpid()})
    assert "py-spy is not installed" in problem
