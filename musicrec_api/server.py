"""Serve the HTTP API with uvicorn: one worker process, whose thread pool answers requests."""

from __future__ import annotations

import logging
from pathlib import Path

import uvicorn

from musicrec_api.app import create_app
from musicrec_api.live import DEFAULT_RELOAD_INTERVAL

logger = logging.getLogger(__name__)


def serve(
    data_dir: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    reload_interval: float = DEFAULT_RELOAD_INTERVAL,
    access_log: bool = True,
) -> None:
    """Answer on ``host:port`` from ``data_dir``'s serving database until interrupted, loading
    each new publication within about ``reload_interval`` seconds of it."""
    app = create_app(Path(data_dir), reload_interval)
    logger.info("serving %s on http://%s:%d (OpenAPI page at /docs)", data_dir, host, port)
    uvicorn.run(app, host=host, port=port, workers=1, access_log=access_log)
