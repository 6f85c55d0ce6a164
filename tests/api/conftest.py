"""The HTTP API over the published tiny catalogue: a shared client for questions, and copies
of the data folder for the tests that write into it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from musicrec_api import create_app
from musicrec_core.answers import Answers
from musicrec_core.evaluation import FEW_PLAYS


@pytest.fixture(scope="module")
def client(published_data_dir) -> Iterator[TestClient]:
    """A client of the API over the shared published folder (read only)."""
    with TestClient(create_app(published_data_dir)) as client:
        yield client


@pytest.fixture(scope="module")
def answers(client) -> Answers:
    """The snapshot the client's API serves."""
    return client.app.state.live.answers()


@pytest.fixture
def data_copy(published_data_dir, tmp_path) -> Path:
    """A copy of the published folder that a test may write into."""
    return Path(shutil.copytree(published_data_dir, tmp_path / "data"))


def warm_listener(answers: Answers) -> str:
    """A listener with more than a few plays and a published list."""
    counts = np.diff(answers.plays.indptr)
    return str(answers.user_index[np.flatnonzero(counts > FEW_PLAYS)[0]])
