"""The offline evaluation protocol: full ranking of every candidate track on three test sets.

Test sets, built from the split's labels (see :mod:`musicrec_core.data.split`):

- ``warm``: users with TEST rows; relevant = their TEST tracks; candidates = every catalogue
  track except those the user played in training or validation, and except the cold-start
  tracks (those are scored only in ``cold_track``). Excluding the user's VALIDATION tracks keeps
  known positives from counting as false positives.
- ``cold_user``: users with COLD_USER rows and no training plays; relevant = those tracks;
  candidates = every non-cold track. With ``cold_user_given = N`` the first N plays of each
  (by ``played_at``, seeded random order where missing) are handed to the model as known
  history and leave both the relevant set and the candidates.
- ``cold_track``: users with COLD_TRACK rows; relevant = those tracks; candidates = ONLY the
  cold-start tracks, i.e. how well a model ranks brand-new tracks for the users who later
  played some.

Relevant items are always candidates (a relevant track that may not be recommended is dropped)
and users left with no relevant item are dropped from the set. There are no sampled negatives.
For diversity, an empty artist and the 'Unknown' genre are missing values: they never make two
tracks similar and are not counted as a distinct genre or artist. Novelty's popularity comes
from training plays. Catalogue coverage divides by the number of tracks the test set may
recommend and has no confidence interval. Ties between scores are broken as
:func:`musicrec_core.models.recommender.top_k` breaks them, which is deterministic for equal inputs.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from musicrec_core import metrics as m
from musicrec_core.data import schema as s
from musicrec_core.data.split import COLD_TRACK, COLD_USER, TEST, TRAIN, VALIDATION
from musicrec_core.models.recommender import Recommender, TrainingData, top_k
from musicrec_core.reports.markdown import markdown_table

logger = logging.getLogger(__name__)

WARM = "warm"
TEST_SETS = (WARM, COLD_USER, COLD_TRACK)
TEST_SET = "test_set"
RELEVANT = "relevant"
TABLE_METRICS = (m.NDCG, m.RECALL, m.PRECISION, m.NOVELTY, m.ILS_GENRE, m.COVERAGE)

SUMMARY_COLUMNS = [s.MODEL_NAME, TEST_SET, *m.SUMMARY_COLUMNS]
PER_USER_COLUMNS = [s.MODEL_NAME, TEST_SET, s.USER_ID, m.K, *m.PER_USER_METRICS]
SCORE_SAMPLE_COLUMNS = [s.MODEL_NAME, TEST_SET, RELEVANT, s.SCORE]
PR_CURVE_COLUMNS = [s.MODEL_NAME, TEST_SET, m.K, m.PRECISION, m.RECALL]

_TRACK = "_track"  # column of track indices while building test sets


@dataclass
class TestSet:
    """Users of one test set, their relevant tracks, and which tracks each may be recommended."""

    __test__ = False  # not a pytest test class

    name: str
    user_ids: np.ndarray  # object, sorted
    relevant: list[np.ndarray]  # track indices per user
    gains: list[np.ndarray]  # log1p(plays) per relevant track
    allowed: np.ndarray  # (n_tracks,) bool: tracks this set may recommend at all
    excluded: sparse.csr_matrix  # (n_users, n_tracks): per-user tracks that are not candidates
    history: pd.DataFrame  # plays given to the model at recommendation time (cold users)

    def candidates(self, rows: slice) -> np.ndarray:
        """Boolean (users in rows, n_tracks) mask of the tracks each user's ranking covers."""
        blocked = self.excluded[rows]
        mask = np.repeat(self.allowed[None, :], blocked.shape[0], axis=0)
        r, c = blocked.nonzero()
        mask[r, c] = False
        return mask

    def relevant_matrix(self) -> sparse.csr_matrix:
        """(n_users, n_tracks) boolean matrix of the relevant tracks."""
        lengths = [len(r) for r in self.relevant]
        rows = np.repeat(np.arange(len(self.relevant)), lengths)
        cols = np.concatenate([*self.relevant, np.empty(0, np.int64)])
        return sparse.csr_matrix(
            (np.ones(len(cols), bool), (rows, cols)), shape=(len(self.relevant), len(self.allowed))
        )


@dataclass
class EvaluationData:
    """Training data, the test sets, and the track attributes that diversity and novelty use."""

    train: TrainingData
    test_sets: dict[str, TestSet]
    genre_codes: np.ndarray
    artist_codes: np.ndarray
    popularity: np.ndarray

    @classmethod
    def from_split(
        cls,
        split_frame: pd.DataFrame,
        users: pd.DataFrame,
        tracks: pd.DataFrame,
        cold_user_given: int = 0,
        seed: int = 0,
    ) -> EvaluationData:
        """Train on the TRAIN rows over the full catalogues; build the three test sets."""
        label = split_frame[s.SPLIT]
        train_rows = split_frame[label == TRAIN].drop(columns=[s.SPLIT]).reset_index(drop=True)
        train = TrainingData(train_rows, users, tracks)
        frame = split_frame.assign(
            **{_TRACK: pd.Index(train.matrix.track_ids).get_indexer(split_frame[s.TRACK_ID])}
        )
        unknown = int((frame[_TRACK] < 0).sum())
        if unknown:
            logger.warning("evaluation: %d interactions of tracks outside the catalogue", unknown)
        frame = frame[frame[_TRACK] >= 0]
        n_tracks = len(train.matrix.track_ids)
        cold_tracks = np.zeros(n_tracks, dtype=bool)
        cold_tracks[frame.loc[frame[s.SPLIT] == COLD_TRACK, _TRACK].to_numpy()] = True
        seen = frame[frame[s.SPLIT].isin([TRAIN, VALIDATION])]

        cold_users = np.setdiff1d(
            frame.loc[frame[s.SPLIT] == COLD_USER, s.USER_ID].unique(),
            frame.loc[frame[s.SPLIT] == TRAIN, s.USER_ID].unique(),
        )
        cold_rows = frame[(frame[s.SPLIT] == COLD_USER) & frame[s.USER_ID].isin(cold_users)]
        history, cold_rows = _given_plays(cold_rows, cold_user_given, seed)
        test_sets = {
            WARM: _test_set(WARM, frame[frame[s.SPLIT] == TEST], seen, ~cold_tracks, history[:0]),
            COLD_USER: _test_set(COLD_USER, cold_rows, seen, ~cold_tracks, history),
            COLD_TRACK: _test_set(
                COLD_TRACK, frame[frame[s.SPLIT] == COLD_TRACK], seen, cold_tracks, history[:0]
            ),
        }
        for name, test in test_sets.items():
            logger.info("evaluation: %s test set has %d users", name, len(test.user_ids))
        return cls(
            train=train,
            test_sets=test_sets,
            genre_codes=_codes(tracks, s.GENRE, ("", s.GENRE_UNKNOWN)),
            artist_codes=_codes(tracks, s.ARTIST_NAME, ("",)),
            popularity=m.play_probability(train.matrix.matrix),
        )


def _codes(tracks: pd.DataFrame, column: str, missing: tuple[str, ...]) -> np.ndarray:
    if column not in tracks:
        return np.full(len(tracks), m.MISSING_CODE, dtype=np.int64)
    return m.attribute_codes(tracks[column], missing)


def _given_plays(rows: pd.DataFrame, given: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split cold users' rows into the first ``given`` plays each (history) and the rest."""
    if given <= 0:
        return rows[:0], rows
    rng = np.random.default_rng(seed)
    played_at = rows[s.PLAYED_AT] if s.PLAYED_AT in rows else pd.Series(pd.NaT, index=rows.index)
    order = pd.DataFrame(
        {s.USER_ID: rows[s.USER_ID], "_at": played_at, "_tiebreak": rng.random(len(rows))}
    ).sort_values([s.USER_ID, "_at", "_tiebreak"], na_position="first")
    first = order.index[order.groupby(s.USER_ID).cumcount().to_numpy() < given]
    is_given = rows.index.isin(first)
    return rows[is_given], rows[~is_given]


def _test_set(
    name: str, rows: pd.DataFrame, seen: pd.DataFrame, allowed: np.ndarray, history: pd.DataFrame
) -> TestSet:
    """A test set from its relevant rows; ``seen`` and ``history`` rows are never candidates."""
    user_ids = np.sort(rows[s.USER_ID].unique()).astype(object)
    n_tracks = len(allowed)
    users = pd.Index(user_ids)
    blocked = pd.concat([seen, history])
    blocked = blocked[blocked[s.USER_ID].isin(user_ids)]
    blocked_users = users.get_indexer(blocked[s.USER_ID])
    blocked_tracks = blocked[_TRACK].to_numpy()
    excluded = sparse.csr_matrix(
        (np.ones(len(blocked), bool), (blocked_users, blocked_tracks)),
        shape=(len(user_ids), n_tracks),
    )
    rel = pd.DataFrame(
        {
            "_user": users.get_indexer(rows[s.USER_ID]),
            _TRACK: rows[_TRACK].to_numpy(),
            s.PLAYS: rows[s.PLAYS].to_numpy(dtype=float),
        }
    )
    rel = rel.groupby(["_user", _TRACK], as_index=False, sort=True)[s.PLAYS].sum()
    is_candidate = allowed[rel[_TRACK].to_numpy()] & ~np.isin(
        rel["_user"].to_numpy() * n_tracks + rel[_TRACK].to_numpy(),
        blocked_users * n_tracks + blocked_tracks,
    )
    dropped = int((~is_candidate).sum())
    if dropped:
        logger.info("evaluation: %s: %d relevant items are not candidates, dropped", name, dropped)
    rel = rel[is_candidate]
    keep = np.isin(np.arange(len(user_ids)), rel["_user"].to_numpy())
    if not keep.all():
        logger.info("evaluation: %s: %d users with nothing relevant left", name, (~keep).sum())
    remap = np.cumsum(keep) - 1
    counts = np.bincount(remap[rel["_user"].to_numpy()], minlength=int(keep.sum()))
    kept_ids = user_ids[keep]
    return TestSet(
        name=name,
        user_ids=kept_ids,
        relevant=_per_user(rel[_TRACK].to_numpy(dtype=np.int64), counts),
        gains=_per_user(np.log1p(rel[s.PLAYS].to_numpy()), counts),
        allowed=allowed,
        excluded=excluded[np.flatnonzero(keep)],
        history=history[history[s.USER_ID].isin(kept_ids)].drop(columns=[s.SPLIT, _TRACK]),
    )


def _per_user(values: np.ndarray, counts: np.ndarray) -> list[np.ndarray]:
    """Consecutive runs of ``values``, one per user, of the given lengths."""
    return np.split(values, np.cumsum(counts)[:-1]) if len(counts) else []


@dataclass
class EvaluationResult:
    """Summary with bootstrap CIs, per-user metrics, and score samples and PR points for plots."""

    summary: pd.DataFrame  # SUMMARY_COLUMNS
    per_user: pd.DataFrame  # PER_USER_COLUMNS
    score_samples: pd.DataFrame  # SCORE_SAMPLE_COLUMNS
    pr_curve: pd.DataFrame  # PR_CURVE_COLUMNS

    @classmethod
    def concat(cls, results: Sequence[EvaluationResult]) -> EvaluationResult:
        """All results stacked, in order."""
        return cls(
            summary=_stack([r.summary for r in results], SUMMARY_COLUMNS),
            per_user=_stack([r.per_user for r in results], PER_USER_COLUMNS),
            score_samples=_stack([r.score_samples for r in results], SCORE_SAMPLE_COLUMNS),
            pr_curve=_stack([r.pr_curve for r in results], PR_CURVE_COLUMNS),
        )


def _stack(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]


def evaluate(
    model: Recommender,
    data: EvaluationData,
    ks: Sequence[int] = (5, 10, 20),
    test_sets: Sequence[str] = TEST_SETS,
    n_boot: int = 1000,
    seed: int = 0,
    batch_users: int = 512,
    name: str | None = None,
    n_score_samples: int = 20_000,
) -> EvaluationResult:
    """Evaluate a model already fitted on ``data.train``; ``name`` defaults to ``model.name``."""
    name = name or model.name
    results = []
    for set_name in test_sets:
        test = data.test_sets[set_name]
        served = set_name in model.test_sets or (
            len(test.history) > 0 and hasattr(model, "recommend_with_history")
        )
        if not served:
            logger.info("evaluation: %s: skipping %s, the model does not serve it", name, set_name)
            continue
        if not len(test.user_ids):
            logger.info("evaluation: %s: skipping %s, it has no users", name, set_name)
            continue
        rng = np.random.default_rng(seed)
        if len(test.history):
            if not hasattr(model, "recommend_with_history"):
                logger.warning(
                    "evaluation: %s: skipping %s, the model cannot take given plays "
                    "(no recommend_with_history)",
                    name,
                    set_name,
                )
                continue
            recommended = _recommend_with_history(model, data, test, max(ks), batch_users)
            samples = pd.DataFrame(columns=[RELEVANT, s.SCORE])
        else:
            recommended, samples = _rank(model, test, max(ks), batch_users, n_score_samples, rng)
        results.append(
            _result(name, data, test, recommended, samples, ks, n_boot=n_boot, seed=seed)
        )
    return EvaluationResult.concat(results)


def _known_or_none(codes: np.ndarray) -> np.ndarray | None:
    """Attribute codes, or None when no track has the attribute (its diversity is then n/a)."""
    return codes if (codes >= 0).any() else None


def _result(
    name: str,
    data: EvaluationData,
    test: TestSet,
    recommended: np.ndarray,
    samples: pd.DataFrame,
    ks: Sequence[int],
    n_boot: int,
    seed: int,
) -> EvaluationResult:
    labels = {s.MODEL_NAME: name, TEST_SET: test.name}
    per_user = m.evaluate_lists(
        recommended,
        test.relevant,
        test.gains,
        ks=ks,
        genre_codes=_known_or_none(data.genre_codes),
        artist_codes=_known_or_none(data.artist_codes),
        popularity=data.popularity,
        user_ids=test.user_ids,
    )
    coverage = pd.DataFrame(
        {
            m.METRIC: m.COVERAGE,
            m.K: list(ks),
            m.MEAN: [m.catalogue_coverage(recommended[:, :k], int(test.allowed.sum())) for k in ks],
            m.CI_LOW: np.nan,
            m.CI_HIGH: np.nan,
            m.N_USERS: len(test.user_ids),
        }
    )
    summary = pd.concat([m.summarise(per_user, n_boot=n_boot, seed=seed), coverage])
    return EvaluationResult(
        summary=summary.assign(**labels)[SUMMARY_COLUMNS],
        per_user=per_user.assign(**labels)[PER_USER_COLUMNS],
        score_samples=samples.assign(**labels)[SCORE_SAMPLE_COLUMNS],
        pr_curve=m.pr_curve(recommended, test.relevant, max(ks)).assign(**labels)[PR_CURVE_COLUMNS],
    )


def _rank(
    model: Recommender,
    test: TestSet,
    k: int,
    batch_users: int,
    n_samples: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Top-k candidate indices per user (-1 empty), and sampled relevant / irrelevant scores.

    Irrelevant scores are drawn uniformly over (user, allowed track) pairs, non-candidates
    rejected, about ``n_samples`` in all.
    """
    n_users = len(test.user_ids)
    recommended = np.full((n_users, k), -1, dtype=np.int64)
    relevant = test.relevant_matrix()
    allowed = np.flatnonzero(test.allowed)
    positives, negatives = [], []
    for start in range(0, n_users, batch_users):
        rows = slice(start, start + batch_users)
        scores = np.array(model.score(test.user_ids[rows]), dtype=np.float64)
        candidates = test.candidates(rows)
        scores[~candidates] = -np.inf
        idx, top = top_k(scores, k)
        recommended[rows, : idx.shape[1]] = np.where(np.isfinite(top), idx, -1)

        r, c = relevant[rows].nonzero()
        positives.append(scores[r, c])
        candidates[r, c] = False
        n_draws = -(-n_samples * len(scores) // n_users)
        draw_r = rng.integers(0, len(scores), n_draws)
        draw_c = allowed[rng.integers(0, len(allowed), n_draws)]
        ok = candidates[draw_r, draw_c]
        negatives.append(scores[draw_r[ok], draw_c[ok]])
    pos = _subsample(np.concatenate(positives), n_samples, rng)
    neg = _subsample(np.concatenate(negatives), n_samples, rng)
    samples = pd.DataFrame(
        {
            RELEVANT: np.r_[np.ones(len(pos), bool), np.zeros(len(neg), bool)],
            s.SCORE: np.r_[pos, neg],
        }
    )
    return recommended, samples


def _subsample(values: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    if len(values) <= n:
        return values
    return values[np.sort(rng.choice(len(values), size=n, replace=False))]


def _recommend_with_history(
    model: Recommender, data: EvaluationData, test: TestSet, k: int, batch_users: int
) -> np.ndarray:
    """Top-k candidates from ``model.recommend_with_history(user_ids, histories, k)``.

    ``histories`` is the batch's given plays (schema play columns); the model's lists are asked
    long enough that k candidates survive dropping non-candidate tracks.
    """
    track_index = pd.Index(data.train.matrix.track_ids)
    longest_history = int(test.history.groupby(s.USER_ID).size().max())
    ask = k + int((~test.allowed).sum()) + longest_history
    out = np.full((len(test.user_ids), k), -1, dtype=np.int64)
    for start in range(0, len(test.user_ids), batch_users):
        rows = slice(start, start + batch_users)
        user_ids = test.user_ids[rows]
        histories = test.history[test.history[s.USER_ID].isin(user_ids)]
        recs = model.recommend_with_history(user_ids, histories, ask)
        idx = track_index.get_indexer(recs.track_ids.ravel()).reshape(recs.track_ids.shape)
        candidates = test.candidates(rows)
        ok = (idx >= 0) & np.take_along_axis(candidates, np.maximum(idx, 0), axis=1)
        idx = np.where(ok, idx, -1)
        first = np.argsort(~ok, axis=1, kind="stable")[:, :k]
        kept = np.take_along_axis(idx, first, axis=1)
        out[rows, : kept.shape[1]] = kept
    return out


def compare(
    models: dict[str, Recommender], data: EvaluationData, **kwargs: object
) -> EvaluationResult:
    """Evaluate each fitted model under its dict key; ``kwargs`` go to :func:`evaluate`."""
    return EvaluationResult.concat(
        [evaluate(model, data, name=name, **kwargs) for name, model in models.items()]
    )


PAIRED_COLUMNS = [TEST_SET, "other_model", m.MEAN, m.CI_LOW, m.CI_HIGH, m.N_USERS]


def paired_differences(
    per_user: pd.DataFrame,
    model: str,
    metric: str = m.NDCG,
    k: int = 10,
    n_boot: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """``model``'s per-user ``metric@k`` minus each other model's on the same users, with a
    bootstrap interval of the mean difference (users resampled as pairs): a much tighter test
    of "A beats B" than comparing the two models' separate intervals. One row per test set and
    other model (PAIRED_COLUMNS)."""
    at_k = per_user[per_user[m.K] == k]
    wide = at_k.set_index([TEST_SET, s.USER_ID, s.MODEL_NAME])[metric].unstack(s.MODEL_NAME)
    rows = []
    if model not in wide.columns:
        return pd.DataFrame(rows, columns=PAIRED_COLUMNS)
    for test_set, group in wide.groupby(level=0, sort=False):
        for other in (c for c in wide.columns if c != model):
            diff = (group[model] - group[other]).to_numpy(dtype=float)
            mean, low, high = m.bootstrap_ci(diff, n_boot=n_boot, seed=seed)
            rows.append((test_set, other, mean, low, high, int((~np.isnan(diff)).sum())))
    return pd.DataFrame(rows, columns=PAIRED_COLUMNS).dropna(subset=[m.MEAN])


def comparison_table(
    summary: pd.DataFrame, k: int = 10, metrics: Sequence[str] = TABLE_METRICS, digits: int = 3
) -> pd.DataFrame:
    """Wide table: one row per model and test set, one 'mean [low, high]' column per metric@k."""
    rows = summary[[s.MODEL_NAME, TEST_SET]].drop_duplicates()
    at_k = summary[(summary[m.K] == k) & summary[m.METRIC].isin(metrics)]
    cells = at_k.assign(
        _cell=[
            _cell(mean, low, high, digits)
            for mean, low, high in at_k[[m.MEAN, m.CI_LOW, m.CI_HIGH]].itertuples(index=False)
        ]
    )
    wide = cells.pivot(index=[s.MODEL_NAME, TEST_SET], columns=m.METRIC, values="_cell")
    wide = wide.reindex(
        index=pd.MultiIndex.from_frame(rows), columns=[c for c in metrics if c in wide.columns]
    )
    wide.columns = [f"{metric}@{k}" for metric in wide.columns]
    return wide.fillna("").reset_index()


def _cell(mean: float, low: float, high: float, digits: int) -> str:
    if np.isnan(mean):
        return "n/a"
    if np.isnan(low) or np.isnan(high):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def to_markdown(frame: pd.DataFrame) -> str:
    """The comparison table as Markdown, through the project's one table formatter."""
    return markdown_table(frame)
