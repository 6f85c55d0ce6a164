"""The answers being served, replaced by a newly published snapshot without a restart.

Every publication replaces the serving database by an atomic rename, so a changed
``file_stamp`` means a new, complete snapshot. A watcher thread checks the stamp every
``interval`` seconds and loads a new snapshot beside the served one, with every audience's
model loaded and warmed up (seconds to minutes); requests keep being answered from the served
one until the new one replaces it in a single assignment, so no request waits for a reload or
for a model to load.

Watching the database is enough to follow promotions too: a promoted model is served by
republishing the database, whose ``served_models`` table names the model version of each
audience, and loading the snapshot loads those versions from the artifacts.

A publication that cannot be loaded (published by an earlier version, naming a model missing
from the artifacts, removed) is logged once and reported by /health; the served snapshot
stays until a later publication loads.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from musicrec_core.answers import AnswerError, Answers, NoServingDatabase, Stamp, file_stamp
from musicrec_core.data import schema as s
from musicrec_core.serving import SERVING_FILE

logger = logging.getLogger(__name__)

DEFAULT_RELOAD_INTERVAL = 1.0  # seconds between checks for a new publication
STOP_WAIT = 5.0  # seconds shutdown waits for a reload in progress


@dataclass(frozen=True)
class Served:
    """A loaded snapshot's answers and when this process loaded them."""

    answers: Answers
    loaded_at: datetime


@dataclass(frozen=True)
class FailedLoad:
    """A publication that could not be loaded: its stamp (None: no file) and why."""

    stamp: Stamp | None
    reason: str


class LiveAnswers:
    """The served snapshot of a data folder, kept up to date by a watcher thread."""

    def __init__(self, data_dir: Path, interval: float = DEFAULT_RELOAD_INTERVAL) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / SERVING_FILE
        self.interval = interval
        self.served: Served | None = None
        self.failed: FailedLoad | None = None
        self.loading = False  # a publication is being loaded beside the served snapshot
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    def start(self) -> None:
        """Load the published snapshot, if any (blocking), then watch for new publications."""
        self.refresh()
        self._stop.clear()
        self._watcher = threading.Thread(target=self._watch, name="snapshot-watcher", daemon=True)
        self._watcher.start()

    def stop(self) -> None:
        """Stop watching; a reload in progress is given ``STOP_WAIT`` seconds to finish."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(STOP_WAIT)
            self._watcher = None

    def answers(self) -> Answers:
        """The served snapshot's answers; ``NoServingDatabase`` while none has loaded."""
        served = self.served
        if served is not None:
            return served.answers
        failed = self.failed
        if failed is not None:
            raise NoServingDatabase(failed.reason)
        raise NoServingDatabase(f"{self.path} is being loaded; ask again in a few seconds")

    def refresh(self) -> bool:
        """Load the database if its stamp is neither the served one nor one that failed to load;
        True when a new snapshot replaced the served one."""
        stamp = file_stamp(self.path)
        served, failed = self.served, self.failed
        if served is not None and served.answers.snapshot.stamp == stamp:
            return False
        if failed is not None and failed.stamp == stamp:
            return False
        self.loading = True
        try:
            answers = Answers.open(self.data_dir).warm_up()
            self.served = Served(answers, datetime.now(UTC))
            self.failed = None
        except AnswerError as error:
            self._failed(stamp, str(error))
            return False
        except Exception as error:  # a damaged artifact must not stop the served snapshot
            logger.exception("loading %s failed", self.path)
            self._failed(stamp, f"{type(error).__name__}: {error}".splitlines()[0])
            return False
        finally:
            self.loading = False
        logger.info(
            "serving the snapshot published at %s: %s",
            answers.snapshot.published_at,
            served_models(answers),
        )
        return True

    def _failed(self, stamp: Stamp | None, reason: str) -> None:
        self.failed = FailedLoad(stamp, reason)
        kept = "keeping the served snapshot" if self.served is not None else "nothing served"
        logger.error("cannot load %s (%s): %s", self.path, kept, reason)

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            self.refresh()


def served_models(answers: Answers) -> dict[str, dict[str, str | None]]:
    """The model name and version serving each audience of a snapshot."""
    return {
        str(audience): dict(
            zip((s.MODEL_NAME, s.MODEL_VERSION), answers.model_of(audience), strict=True)
        )
        for audience in answers.served.index
    }
