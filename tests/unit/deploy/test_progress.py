"""Progress bars (`mash demo`, `mash chaos`, `make bench`) redraw in place on a terminal
only: in a log or CI output they write whole lines, never `\\r` frames (issue 24)."""

from __future__ import annotations

import importlib.util
import io
import sys
from types import ModuleType

import pytest

from mash_tools import demo
from tests.unit.deploy.conftest import ROOT


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_demo_writes_one_line_per_step_when_not_a_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for n in range(1, 31):
        demo.progress("Posting (a log)", n, 30)
    for _ in range(3):  # a step polled again once complete is not printed again
        demo.progress("Posting (a log)", 30, 30)
    out = capsys.readouterr().out
    assert "\r" not in out
    assert out.count("\n") == 1
    assert "Posting (a log)" in out
    assert "30/30" in out


def test_the_demo_redraws_in_place_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    for n in range(1, 4):
        demo.progress("Posting (a terminal)", n, 3)
    assert terminal.getvalue().count("\r") == 3
    assert terminal.getvalue().endswith("3/3\n")


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mash_bench", ROOT / "deploy" / "bench.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_bench_writes_a_line_per_step_when_not_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log = io.StringIO()
    monkeypatch.setattr(sys, "stderr", log)
    progress = _bench().Progress(3)
    for step in ("one", "two", "three"):
        progress.step(step)
        progress.advance()
    progress.close()
    assert "\r" not in log.getvalue()
    assert [line.split()[-1] for line in log.getvalue().splitlines()] == ["one", "two", "three"]


def test_the_bench_redraws_in_place_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    progress = _bench().Progress(1)
    progress.step("one")
    progress.advance()
    assert terminal.getvalue().count("\r") == 2
