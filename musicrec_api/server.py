"""Serve the HTTP API with uvicorn: worker processes each answering on their event loop.

Each worker loads the published snapshot itself and follows new publications on its own, so
workers multiply the memory a snapshot takes; they are started by uvicorn from
``app_from_environment``, which reads the data folder and reload interval ``serve`` sets.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
from pathlib import Path

import torch
import uvicorn
from fastapi import FastAPI

from musicrec_api.app import create_app
from musicrec_api.live import DEFAULT_RELOAD_INTERVAL

logger = logging.getLogger(__name__)

DATA_DIR_VARIABLE = "MUSICREC_API_DATA_DIR"
RELOAD_VARIABLE = "MUSICREC_API_RELOAD_INTERVAL"
SWITCH_INTERVAL = 0.001  # seconds a thread may hold the interpreter while another waits


def app_from_environment() -> FastAPI:
    """The app of one worker, over the data folder ``serve`` put in the environment."""
    torch.set_num_threads(1)  # one answer at a time per worker: a second thread would only spin
    app = create_app(
        Path(os.environ[DATA_DIR_VARIABLE]),
        float(os.environ.get(RELOAD_VARIABLE, DEFAULT_RELOAD_INTERVAL)),
    )
    # The imported modules, hundreds of thousands of objects that live as long as the process,
    # leave the cycle collector's view: a full collection over them paused every request for
    # about 200 ms, several times per snapshot load. The snapshots stay collectable.
    gc.collect()
    gc.freeze()
    # A snapshot loads in a background thread; the event loop gets the interpreter back within
    # a millisecond instead of the default five, each time it waits for it while answering.
    sys.setswitchinterval(SWITCH_INTERVAL)
    return app


def serve(
    data_dir: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    reload_interval: float = DEFAULT_RELOAD_INTERVAL,
    access_log: bool = True,
    workers: int = 1,
) -> None:
    """Answer on ``host:port`` from ``data_dir``'s serving database with ``workers`` processes
    until interrupted, loading each new publication within about ``reload_interval`` seconds."""
    os.environ[DATA_DIR_VARIABLE] = str(Path(data_dir).resolve())
    os.environ[RELOAD_VARIABLE] = str(reload_interval)
    logger.info(
        "serving %s on http://%s:%d with %d worker(s) (OpenAPI page at /docs)",
        data_dir,
        host,
        port,
        workers,
    )
    uvicorn.run(
        f"{__name__}:{app_from_environment.__name__}",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
    )
