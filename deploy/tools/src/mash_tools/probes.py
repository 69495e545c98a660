"""What `make bench` reads about the service processes from outside: CPU time from
`/proc/<pid>/stat`, the event loop a process runs (from `/proc/<pid>/maps`), and py-spy
flame graphs of a measured phase.

Read from outside so that what is measured is the process as it runs (every thread, the
interpreter, SQLite, the TLS of its Kafka connections), not what it says of itself; and
so that the bench needs nothing inside the services.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def parse_stat(text: str) -> tuple[int, int]:
    """utime and stime (clock ticks, every thread of the process) from the text of
    `/proc/<pid>/stat`. The command name (field 2) is in parentheses and may itself hold
    spaces and parentheses, so the fields are counted from the last `)`: utime and stime
    are fields 14 and 15, the 12th and 13th after it (proc(5))."""
    _, paren, rest = text.rpartition(")")
    fields = rest.split()
    if not paren or len(fields) < 13:
        raise ValueError("not the text of /proc/<pid>/stat")
    return int(fields[11]), int(fields[12])


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user and system) a running process has used so far."""
    utime, stime = parse_stat(Path(f"/proc/{pid}/stat").read_text())
    return (utime + stime) / TICKS


def cpu_snapshot(pids: Mapping[str, int]) -> dict[str, float]:
    """CPU seconds of each named process now."""
    return {name: cpu_seconds(pid) for name, pid in pids.items()}


def per_unit_ms(
    before: Mapping[str, float], after: Mapping[str, float], units: int
) -> dict[str, float]:
    """Milliseconds of CPU each process spent per unit of work (an incident, a decision)
    between two snapshots, and their sum as `all`. A process missing from either snapshot
    is left out (it stopped, or started later)."""
    if units <= 0:
        raise ValueError("units must be positive")
    spent = {name: 1000 * (after[name] - before[name]) / units for name in before if name in after}
    return {**spent, "all": sum(spent.values())}


def event_loop(pid: int) -> str:
    """`uvloop` when the process has uvloop's loop loaded, else `asyncio` (uvicorn picks
    uvloop on its own when it is installed)."""
    maps = Path(f"/proc/{pid}/maps").read_text()
    return "uvloop" if "/uvloop/loop." in maps else "asyncio"


def py_spy() -> str | None:
    """The py-spy command beside this interpreter (a dev dependency), or on the PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def why(stderr: bytes) -> str:
    """py-spy's reason for writing nothing, in one line; a refused ptrace said as such."""
    lines = stderr.decode(errors="replace").strip().splitlines()
    last = lines[-1] if lines else "no output"
    if "ermission" in last or "ptrace" in last.lower():
        return f"py-spy cannot attach here (ptrace refused): {last}"
    return last


@dataclass
class Profiler:
    """py-spy recording the named processes (`py-spy record --pid`) into one directory,
    one flame graph (SVG) each, or with `raw` one file of collapsed stacks each (one line a
    stack and its samples, for reading or `grep`), from `start` until `stop`.

    py-spy attaches with ptrace: where the kernel or the container forbids it (no
    CAP_SYS_PTRACE, Yama's ptrace_scope 2 or 3, a seccomp profile), the recorders fail
    and `stop` says so instead of writing a graph; the measures go on without them.
    The sampling takes CPU of its own on the same cores: the figures of a profiled run
    are not the bench's figures."""

    directory: Path
    raw: bool = False
    recorders: dict[str, tuple[subprocess.Popen[bytes], Path]] = field(default_factory=dict)

    def start(self, label: str, pids: Mapping[str, int]) -> list[str]:
        """Start one recorder per process, its graph named `<label>-<name>.svg`; the
        problems met (none when every recorder started)."""
        command = py_spy()
        if command is None:
            return ["py-spy is not installed (`make setup` installs it, a dev dependency)"]
        self.directory.mkdir(parents=True, exist_ok=True)
        for name, pid in pids.items():
            out = self.directory / f"{label}-{name}.{'txt' if self.raw else 'svg'}"
            form = "raw" if self.raw else "flamegraph"
            argv = [command, "record", "--pid", str(pid), "--format", form]
            argv += ["--output", str(out)]
            recorder = subprocess.Popen(
                argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
            )
            self.recorders[f"{label}-{name}"] = (recorder, out)
        return []

    def stop(self) -> list[str]:
        """Stop every recorder (SIGINT: py-spy writes its graph and exits); what each
        wrote, or why it wrote nothing."""
        lines = []
        for key, (recorder, out) in self.recorders.items():
            if recorder.poll() is None:
                recorder.send_signal(signal.SIGINT)
            try:
                _, err = recorder.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                recorder.kill()
                _, err = recorder.communicate()
            if out.exists() and out.stat().st_size > 0:
                lines.append(f"{key}: {out}")
            else:
                lines.append(f"{key}: no flame graph ({why(err or b'')})")
        self.recorders.clear()
        return lines
