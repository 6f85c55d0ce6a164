"""Which stage a long command is in: a progress bar on a terminal, nothing anywhere else.

``RunProgress`` watches the runs that ``run_jobs`` executes in this process: the instance hands
it every event as it is stored, so it learns each step's start and end while the run goes on.
The bar counts a job's steps done out of its steps; its description names the job and the step
running now (``retrain: hybrid_model``) and, while the hybrid model trains, its postfix the epoch.
When the stream is not a terminal (a pipe, a file, CI) it draws nothing: no bar, no carriage
returns. Asked to, it also repeats the warnings that assets log (``context.log.warning``), one
line each, for when Dagster's own console log is turned down.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from types import TracebackType
from typing import TextIO

import dagster as dg
from tqdm import tqdm

# The hybrid training logs one line per epoch at INFO: "hybrid epoch %d: %s" (epoch, metrics).
TRAINING_LOGGER = "musicrec_core.models.hybrid.training"
EPOCH_MESSAGE = "hybrid epoch "

STEP_DONE = frozenset(
    {
        dg.DagsterEventType.STEP_SUCCESS,
        dg.DagsterEventType.STEP_FAILURE,
        dg.DagsterEventType.STEP_SKIPPED,
    }
)


def is_terminal(stream: TextIO) -> bool:
    """True when ``stream`` is an open terminal."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class RunProgress:
    """Steps done out of each job's steps, drawn with tqdm on ``stream`` when it is a terminal.

    Pass it to ``run_jobs`` as its watcher, inside ``with``. On a terminal the ``with`` block
    also: draws on its own copy of the terminal's file descriptor, so that the bar stays out of
    the stderr Dagster captures for the UI while a step runs (and knows the terminal's width);
    writes the log lines of the root logger's console handlers above the bar, not through it;
    and reads the training's epoch lines for the bar's postfix. It puts all of that back at the
    end. It counts steps whether or not it draws (``job``, ``step``, ``done``, ``total``,
    ``epoch``); ``enabled`` forces drawing on or off whatever the stream is. With
    ``echo_warnings``, an asset's logged warning is written as ``musicrec: warning: <step>:
    <text>`` (errors are left to the run's failure).
    """

    def __init__(
        self, stream: TextIO | None = None, enabled: bool | None = None, echo_warnings: bool = False
    ) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.enabled = is_terminal(self.stream) if enabled is None else enabled
        self.echo_warnings = echo_warnings
        self.job: str | None = None
        self.step: str | None = None
        self.done = 0
        self.total = 0
        self.epoch: int | None = None
        self._out: TextIO = self.stream  # where the bar and the lines above it go
        self._bar: tqdm | None = None
        self._training = logging.getLogger(TRAINING_LOGGER)
        self._shown_from = logging.NOTSET  # the training logger's effective level before
        self._restore = contextlib.ExitStack()

    def __enter__(self) -> RunProgress:
        if self.enabled:
            self._out = self._restore.enter_context(_own_copy(self.stream))
            self._restore.callback(setattr, self, "_out", self.stream)
            self._write_logs_above_the_bar()
            self._watch_epochs()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def job_started(self, job_name: str, steps: int) -> None:
        """A job of ``steps`` steps is about to run."""
        self._close_bar()
        self.job, self.step, self.done, self.total, self.epoch = job_name, None, 0, steps, None
        if self.enabled:
            self._bar = tqdm(
                total=steps,
                desc=job_name,
                unit="step",
                file=self._out,
                leave=True,
                dynamic_ncols=True,
                disable=False,
            )

    def event(self, entry: dg.EventLogEntry) -> None:
        """One event of the running job, as the instance stores it."""
        event = entry.dagster_event
        if event is None:
            if self.echo_warnings and logging.WARNING <= _level(entry) < logging.ERROR:
                where = entry.step_key or entry.job_name
                self.write(f"musicrec: warning: {where}: {entry.user_message}\n")
            return
        if event.event_type == dg.DagsterEventType.STEP_START:
            self.step, self.epoch = event.step_key, None
            self._redraw()
        elif event.event_type in STEP_DONE:
            self.done += 1
            if self._bar is not None:
                self._bar.total = max(self._bar.total, self.done)
                self._bar.update(1)

    def job_finished(self, job_name: str) -> None:
        """The job's run is over, whatever its outcome."""
        self.step, self.epoch = None, None
        self._close_bar()

    def write(self, text: str) -> int:
        """Write text on the stream, above the bar while one is drawn (a file-like ``write``,
        so that a logging handler can write here)."""
        if self._bar is not None:
            self._bar.write(text.rstrip("\n"), file=self._out)
        else:
            self._out.write(text)
        return len(text)

    def flush(self) -> None:
        self._out.flush()

    def close(self) -> None:
        """Close the bar, if any, and put back what the ``with`` block changed."""
        self._close_bar()
        self._restore.close()

    def _redraw(self) -> None:
        if self._bar is None:
            return
        self._bar.set_description(f"{self.job}: {self.step}" if self.step else str(self.job), False)
        self._bar.set_postfix_str("" if self.epoch is None else f"epoch {self.epoch}")

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.set_description(str(self.job), refresh=False)
            self._bar.set_postfix_str("", refresh=False)
            self._bar.close()
            self._bar = None

    def _write_logs_above_the_bar(self) -> None:
        """Point the root logger's handlers that write on the console at ``write``."""
        for handler in logging.getLogger().handlers:
            if type(handler) is logging.StreamHandler and handler.stream in (
                sys.stderr,
                sys.stdout,
                self.stream,
            ):
                self._restore.callback(handler.setStream, handler.setStream(self))

    def _watch_epochs(self) -> None:
        """Let the training logger's INFO records reach the filter below, which passes on only
        what it showed before: the epoch lines feed the postfix without appearing in the log."""
        self._shown_from = self._training.getEffectiveLevel()
        self._restore.callback(self._training.setLevel, self._training.level)
        self._training.setLevel(min(self._shown_from, logging.INFO))
        self._training.addFilter(self._see_training_log)
        self._restore.callback(self._training.removeFilter, self._see_training_log)

    def _see_training_log(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith(EPOCH_MESSAGE):
            epoch = record.args[0] if isinstance(record.args, tuple) and record.args else None
            if isinstance(epoch, int):
                self.epoch = epoch
                self._redraw()
        return record.levelno >= self._shown_from


@contextlib.contextmanager
def _own_copy(stream: TextIO):
    """A text file on a copy of ``stream``'s file descriptor (``stream`` itself when it has
    none): it keeps pointing at the terminal while the descriptor itself is redirected."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both
        yield stream
        return
    encoding = getattr(stream, "encoding", None) or "utf-8"
    with os.fdopen(os.dup(fd), "w", encoding=encoding, errors="replace") as copy:
        yield copy


def _level(entry: dg.EventLogEntry) -> int:
    level = entry.level
    level = level if isinstance(level, int) else logging.getLevelName(str(level).upper())
    return level if isinstance(level, int) else logging.NOTSET
