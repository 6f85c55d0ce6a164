"""The progress reporter follows a real run step by step, draws only on a terminal, and shows
the training's epoch."""

from __future__ import annotations

import fcntl
import io
import logging
import os
import pty
import struct
import sys
import termios
import threading

import dagster as dg
import pytest

from musicrec_dagster.progress import TRAINING_LOGGER, RunProgress
from musicrec_dagster.runs import run_jobs, step_count


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def tiny_defs(progress: RunProgress, seen: list[tuple[str | None, int]]) -> dg.Definitions:
    """Three assets in a row, the middle one a graph of two ops; each op notes where the
    reporter stands while it runs, and the last one logs a training epoch line."""

    def note() -> None:
        seen.append((progress.step, progress.done))

    @dg.asset
    def plays() -> int:
        note()
        return 1

    @dg.op
    def double(value: int) -> int:
        note()
        return 2 * value

    @dg.op
    def add_one(value: int) -> int:
        note()
        return value + 1

    @dg.graph_asset
    def features(plays: int) -> int:
        return add_one(double(plays))

    @dg.asset
    def model(features: int) -> int:
        note()
        logging.getLogger(TRAINING_LOGGER).info("hybrid epoch %d: %s", 3, {"total": 0.5})
        return features

    job = dg.define_asset_job("tiny", selection=[plays, features, model])
    return dg.Definitions(assets=[plays, features, model], jobs=[job])


def run_tiny(progress: RunProgress) -> list[tuple[str | None, int]]:
    seen: list[tuple[str | None, int]] = []
    defs = tiny_defs(progress, seen)
    with progress, dg.DagsterInstance.ephemeral() as instance:
        outcome = run_jobs(defs, instance, ("tiny",), watcher=progress)
    assert outcome.success
    return seen


def test_a_job_counts_each_op_as_a_step_graphs_included():
    defs = tiny_defs(RunProgress(io.StringIO()), [])
    assert step_count(defs.resolve_job_def("tiny")) == 4


def test_it_advances_step_by_step_during_the_run_and_writes_nothing_off_a_terminal():
    stream = io.StringIO()
    progress = RunProgress(stream)
    assert not progress.enabled
    seen = run_tiny(progress)
    # each op saw itself as the running step, after every step before it had finished
    assert seen == [
        ("plays", 0),
        ("features.double", 1),
        ("features.add_one", 2),
        ("model", 3),
    ]
    assert progress.done == progress.total == 4
    assert stream.getvalue() == ""


def test_on_a_terminal_it_draws_a_bar_named_after_the_step_with_the_epoch():
    training = logging.getLogger(TRAINING_LOGGER)
    level_before = training.level
    stream = Terminal()
    progress = RunProgress(stream)
    assert progress.enabled
    run_tiny(progress)
    drawn = stream.getvalue()
    assert "\r" in drawn
    assert "tiny: features.double" in drawn and "tiny: model" in drawn
    assert "epoch 3" in drawn
    assert "4/4" in drawn.rsplit("\r", 1)[-1]  # the last drawing is the finished bar
    # the training logger is as it was
    assert training.level == level_before and not training.filters


def test_epoch_lines_feed_the_bar_without_reaching_the_log(caplog):
    caplog.set_level(logging.WARNING)
    training = logging.getLogger(TRAINING_LOGGER)
    with RunProgress(Terminal()) as progress:
        progress.job_started("retrain", 7)
        training.info("hybrid epoch %d: %s", 2, {"total": 0.5})
        training.warning("a warning still shows")
        assert progress.epoch == 2
    messages = [r.getMessage() for r in caplog.records if r.name == TRAINING_LOGGER]
    assert messages == ["a warning still shows"]


@pytest.mark.parametrize("enabled", [False, True])
def test_a_failed_step_counts_as_done_and_closes_the_bar(enabled):
    @dg.asset
    def broken() -> int:
        raise ValueError("no plays")

    @dg.asset
    def after(broken: int) -> int:
        return broken

    defs = dg.Definitions(
        assets=[broken, after], jobs=[dg.define_asset_job("fragile", selection=[broken, after])]
    )
    stream = Terminal() if enabled else io.StringIO()
    with RunProgress(stream) as progress, dg.DagsterInstance.ephemeral() as instance:
        outcome = run_jobs(defs, instance, ("fragile",), watcher=progress)
    assert outcome.failed_job == "fragile"
    assert progress.done >= 1 and progress._bar is None
    assert (stream.getvalue() != "") == enabled


def test_on_a_real_terminal_the_bar_stays_out_of_the_stderr_dagster_captures(tmp_path, monkeypatch):
    """Dagster points file descriptor 2 at its compute log while a run goes on; the bar is
    drawn on its own copy of the terminal, so the run's captured stderr holds none of it."""
    home = tmp_path / "home"
    home.mkdir()
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
    drawn = bytearray()
    reader = threading.Thread(target=_drain, args=(leader, drawn), daemon=True)
    reader.start()
    saved_stderr = os.dup(2)
    os.dup2(follower, 2)  # the process's stderr is the terminal, as in a shell
    try:
        with open(2, "w", closefd=False) as terminal, monkeypatch.context() as patch:
            patch.setattr(sys, "stderr", terminal)  # what Dagster redirects while a run goes on
            progress = RunProgress(terminal)
            assert progress.enabled
            seen: list[tuple[str | None, int]] = []
            defs = tiny_defs(progress, seen)
            with progress, dg.DagsterInstance.local_temp(str(home)) as instance:
                assert run_jobs(defs, instance, ("tiny",), watcher=progress).success
    finally:
        os.dup2(saved_stderr, 2)
        os.close(saved_stderr)
        os.close(follower)
        reader.join(timeout=10)
        os.close(leader)
    assert "tiny: model" in drawn.decode(errors="replace")
    captured = list(home.rglob("compute_logs/*.err"))
    assert captured, "the instance captured no stderr: nothing is checked"
    for path in captured:
        text = path.read_bytes()
        assert b"\r" not in text and b"tiny: " not in text, text[-300:]


def _drain(fd: int, into: bytearray) -> None:
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the other end is closed
            return
        if not chunk:
            return
        into.extend(chunk)
