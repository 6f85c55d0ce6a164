"""Recommend-all and publication at scale, for ``serving_speed.py --scale-plays``.

The catalogue is the synthetic source at the given number of plays through the data path (kept
as Parquet in ``--data`` between runs). The model is the hybrid with the shapes it has there
but no training (fitted for no epochs: its towers, head, catalogue inputs and content vectors
are built, the weights stay at their initial values), serving over every play. It fuses no
item-item evidence (above ``item_item_max_tracks`` played tracks a trained hybrid takes ELSA's
factors, which are not fitted here); new tracks are fused with their content similarity.
Each round times, interleaved:

- the floor: the bare product of the retrieval vectors of every user and track and its top
  20, in the blocks of users retrieval works in (whole score rows are never held for more
  users than that);
- ``Hybrid.recommend`` of every user's top 20;
- ``served_recommendations`` as the recommendations asset calls it: plays so far, 100
  candidates, MMR at strength 0.2, top 20, the fallback for users without plays.

Then the served lists, the served users' new-track lists (the tracks nobody has played, ranked
by the same model), cold-start lists, users and tracks are published (timed once) and one
user's list is read back. When only some users are served (``--users``), the publication is
timed on every user's list all the same: each user's segment list (the cold-start lists), in
the recommendation table's columns.
"""

from __future__ import annotations

import datetime as dt
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import torch
from common import machine

from musicrec_core.data import PreparedData, prepare
from musicrec_core.data import schema as s
from musicrec_core.data.sources import SourceConfig
from musicrec_core.evaluation import single_model_audiences
from musicrec_core.models import TrainingData, segment_recommendations
from musicrec_core.models.hybrid import RETRIEVAL_BLOCK, RETRIEVAL_MIN_USERS, Hybrid, TrainConfig
from musicrec_core.serving import (
    EXAMPLE_QUERY,
    NEW_TRACKS_K,
    SERVING_VIEWS,
    content_vectors,
    new_track_recommendations,
    publish_serving_database,
    read_only_query,
    segment_popularity,
    served_recommendations,
    serving_tables,
)

K = 20
CANDIDATES = 100
DIVERSITY = 0.2
CONTENT_WEIGHT = 0.25
TABLES = ("users", "tracks", "interactions", "split")


def catalogue(plays: int, folder: str | None) -> PreparedData:
    """The synthetic catalogue of ``plays`` plays, read from ``folder`` when it holds one."""
    if folder and all((Path(folder) / f"{name}.parquet").exists() for name in TABLES):
        return PreparedData(*(pd.read_parquet(Path(folder) / f"{n}.parquet") for n in TABLES))
    data = prepare(SourceConfig(kind="synthetic", scale_plays=plays))
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        for name in TABLES:
            getattr(data, name).to_parquet(Path(folder) / f"{name}.parquet", index=False)
    return data


def untrained_hybrid(data: PreparedData) -> Hybrid:
    """The hybrid over every play with the default shapes and initial weights."""
    config = TrainConfig(
        epochs=0,
        item_item_weight=0.0,
        item_item_retrieval_weight=0.0,
        content_weight=CONTENT_WEIGHT,
        progress=False,
    )
    return Hybrid(config).fit(TrainingData(data.interactions, data.users, data.tracks))


def segment_lists(cold: pd.DataFrame, users: pd.DataFrame) -> pd.DataFrame:
    """Every user's segment list from the cold-start lists, as recommendation rows."""
    frame = users[[s.USER_ID, s.AGE_GROUP, s.GENDER]].merge(cold, on=[s.AGE_GROUP, s.GENDER])
    frame[s.MODEL_NAME] = "segment_popularity"
    frame[s.MODEL_VERSION] = "untrained"
    frame[s.GENERATED_AT] = pd.Timestamp.now(tz="UTC").tz_convert(None)
    return frame.sort_values([s.USER_ID, s.RANK], ignore_index=True)[s.RECOMMENDATION_COLUMNS]


def _seconds(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def scale_report(plays: int, repeats: int, folder: str | None, n_users: int | None) -> str:
    """Markdown: the catalogue, the floor, both serving paths and their ratios, publication;
    with ``n_users``, the first that many users are served (the model knows them all)."""
    data = catalogue(plays, folder)
    started = time.perf_counter()
    model = untrained_hybrid(data)
    built = time.perf_counter() - started
    served_users = data.users.iloc[:n_users]
    user_ids = served_users[s.USER_ID].to_numpy(dtype=object)
    users = torch.from_numpy(model.user_vectors(user_ids))
    items = torch.from_numpy(model.item_vectors())
    step = max(RETRIEVAL_BLOCK // items.shape[0], RETRIEVAL_MIN_USERS)
    vectors = content_vectors(data.tracks, model.preprocessor)
    fallback = segment_popularity(data.interactions, data.users, data.tracks)
    served: list[pd.DataFrame] = []

    def floor() -> None:
        for start in range(0, len(users), step):
            torch.topk(users[start : start + step] @ items.T, K, dim=1)

    def recommend() -> None:
        model.recommend(user_ids, k=K)

    def serve() -> None:
        served[:] = [
            served_recommendations(
                model,
                "untrained",
                fallback,
                data.interactions,
                served_users,
                data.tracks,
                vectors,
                k=K,
                diversity=DIVERSITY,
                n_candidates=CANDIDATES,
            )
        ]

    paths = (floor, recommend, serve)
    rounds = [tuple(_seconds(path) for path in paths) for _ in range(repeats)]
    floor_s, recommend_s, serve_s = (statistics.median(t) for t in zip(*rounds, strict=True))
    recommend_ratio = statistics.median(r / f for f, r, _ in rounds)
    serve_ratio = statistics.median(v / f for f, _, v in rounds)
    cold = segment_recommendations(fallback, data.users, K)
    published = served[0]
    if len(served_users) < len(data.users):
        published = segment_lists(cold, data.users)
    source = f"synthetic, {plays:,} plays"
    audiences = single_model_audiences(model.name, "untrained", "benchmark")
    new_lists = new_track_recommendations(model, "untrained", served_users, NEW_TRACKS_K)
    tables = serving_tables(
        published, new_lists, cold, data.users, data.tracks, data.interactions, audiences, source
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "musicrec.duckdb"
        publish_s = _seconds(lambda: publish_serving_database(path, tables, SERVING_VIEWS))
        query_s = _seconds(lambda: read_only_query(path, EXAMPLE_QUERY))
        size_mb = path.stat().st_size / 1e6
    new_tracks = int((~model.model.item_known).sum())
    return (
        f"## Serving at scale, {dt.date.today().isoformat()}, {machine()}\n\n"
        f"{plays:,} plays: {len(user_ids):,} of {len(data.users):,} users x "
        f"{items.shape[0]:,} tracks "
        f"({len(data.interactions):,} user-track pairs), vectors {items.shape[1]} wide, "
        f"{model.config.n_candidates} candidates re-ranked by the head, content weight "
        f"{model.content_weight:g} over {new_tracks:,} new tracks, no item-item fusion, "
        f"untrained weights (built in {built:.0f} s); "
        f"median of {repeats} interleaved rounds\n\n"
        f"- floor, bare product + top-{K} in blocks of {step} users: {floor_s:.1f} s\n"
        f"- `Hybrid.recommend`, top {K}: {recommend_s:.1f} s, "
        f"**{recommend_ratio:.2f}x** the floor\n"
        f"- `served_recommendations` ({CANDIDATES} candidates, MMR {DIVERSITY:g}, top {K}): "
        f"{serve_s:.1f} s, **{serve_ratio:.2f}x** the floor\n"
        f"- publishing {len(published):,} recommendation rows "
        f"({'served' if published is served[0] else 'segment lists of every user'}) with "
        f"{len(new_lists):,} new-track rows, {len(cold):,} cold-start rows, "
        f"{len(data.users):,} users and {len(data.tracks):,} "
        f"tracks: {publish_s:.1f} s "
        f"({size_mb:.0f} MB); the example query on it: {query_s * 1000:.0f} ms\n"
    )
