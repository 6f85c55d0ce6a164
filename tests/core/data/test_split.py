import numpy as np
import pandas as pd

from musicrec_core.data import (
    FIT_PLAY_COLUMNS,
    SPLITS,
    TEST,
    TRAIN,
    VALIDATION,
    SplitConfig,
    build_split_table,
    fit_preprocessor,
    prepare,
    read_split_rows,
    run_data_path,
    split_interactions,
    training_rows,
    warehouse,
)
from musicrec_core.data import schema as s
from musicrec_core.data.sources import SourceConfig


def _interactions(n_users=40, per_user=10, n_tracks=60, with_time=True, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        tracks = rng.choice(n_tracks, per_user, replace=False)
        for i, t in enumerate(tracks):
            rows.append(
                (f"u{u}", f"t{t}", 1 + i, pd.Timestamp("2024-01-01") + pd.Timedelta(days=i))
            )
    df = pd.DataFrame(rows, columns=[s.USER_ID, s.TRACK_ID, s.PLAYS, s.PLAYED_AT])
    if not with_time:
        df[s.PLAYED_AT] = pd.NaT
    return df


def test_every_interaction_lands_in_exactly_one_part_and_is_deterministic():
    df = _interactions()
    a = split_interactions(df)
    b = split_interactions(df)
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == len(df) and set(a[s.SPLIT]) <= set(SPLITS)


def test_holdout_is_the_latest_interactions_of_each_user():
    out = split_interactions(
        _interactions(), SplitConfig(cold_user_fraction=0, cold_track_fraction=0)
    )
    for _, user in out.groupby(s.USER_ID):
        train_max = user.loc[user[s.SPLIT] == "train", s.PLAYED_AT].max()
        assert (user.loc[user[s.SPLIT] == "test", s.PLAYED_AT] > train_max).all()
        assert (user[s.SPLIT] == "test").sum() == 2 and (user[s.SPLIT] == "validation").sum() == 1


def test_cold_tracks_and_users_never_appear_in_training():
    out = split_interactions(
        _interactions(), SplitConfig(cold_user_fraction=0.1, cold_track_fraction=0.1)
    )
    train = out[out[s.SPLIT] == "train"]
    cold_tracks = set(out.loc[out[s.SPLIT] == "cold_track", s.TRACK_ID])
    cold_users = set(out.loc[out[s.SPLIT] == "cold_user", s.USER_ID])
    assert cold_tracks and cold_users
    assert not cold_tracks & set(train[s.TRACK_ID])
    assert not cold_users & set(train[s.USER_ID])


def test_random_holdout_without_timestamps_depends_on_the_seed():
    df = _interactions(with_time=False)
    a = split_interactions(df, SplitConfig(seed=1))
    b = split_interactions(df, SplitConfig(seed=2))
    assert not a[s.SPLIT].equals(b[s.SPLIT])


def test_the_warehouse_split_equals_the_frame_split_whatever_the_row_order():
    df = _interactions(seed=3)
    df.loc[df.index % 7 == 0, s.PLAYED_AT] = pd.NaT
    df[s.PLAYS_LOG] = np.log1p(df[s.PLAYS])
    ordered = df.sort_values([s.USER_ID, s.TRACK_ID]).reset_index(drop=True)
    shuffled = ordered.sample(frac=1.0, random_state=1)
    with warehouse.connect() as con:
        con.register("_frame", shuffled)
        con.execute(f"CREATE TABLE {s.INTERACTIONS_TABLE} AS SELECT * FROM _frame")
        build_split_table(con, SplitConfig(seed=5))
        table = warehouse.table_frame(con, s.SPLITS_TABLE, order_by="rowid")

    assert table[s.USER_ID].tolist() == shuffled[s.USER_ID].tolist()  # the table's own order
    expected = split_interactions(ordered, SplitConfig(seed=5))
    by_pair = table.sort_values([s.USER_ID, s.TRACK_ID]).reset_index(drop=True)
    pd.testing.assert_frame_equal(by_pair, expected, check_dtype=False)


def test_epoch_timestamps_give_a_split_by_time(tmp_path):
    lines = ["user_id,track_id,plays,played_at"]
    for u in range(6):
        lines += [f"u{u},t{t},1,{1704067200 + 86400 * t}" for t in range(10)]
    (tmp_path / "plays.csv").write_text("\n".join(lines) + "\n")

    split = prepare(
        SourceConfig(kind="files", path=str(tmp_path)),
        SplitConfig(cold_user_fraction=0, cold_track_fraction=0),
    ).split

    assert split[s.PLAYED_AT].notna().all()
    for _, user in split.groupby(s.USER_ID):
        latest = user.sort_values(s.PLAYED_AT)[s.SPLIT].tolist()[-3:]
        assert latest == ["validation", "test", "test"]


def test_reading_the_training_plays_fits_the_preprocessor_the_whole_split_fits(tmp_path):
    with warehouse.connect(tmp_path / "w.duckdb") as con:
        run_data_path(
            con, SourceConfig(kind="synthetic", scale_plays=3_000), split_config=SplitConfig()
        )
        whole = warehouse.table_frame(con, s.SPLITS_TABLE)
        plays = read_split_rows(con, [TRAIN], FIT_PLAY_COLUMNS)
        users = warehouse.table_frame(con, s.USER_FEATURES_TABLE)
        tracks = warehouse.table_frame(con, s.TRACK_FEATURES_TABLE)
        held_out = read_split_rows(con, [TEST, VALIDATION], [s.USER_ID, s.SPLIT])

    assert list(plays.columns) == list(FIT_PLAY_COLUMNS)
    expected_rows = training_rows(whole)[list(FIT_PLAY_COLUMNS)].reset_index(drop=True)
    pd.testing.assert_frame_equal(plays, expected_rows)
    assert set(held_out[s.SPLIT]) == {TEST, VALIDATION}
    assert len(held_out) == whole[s.SPLIT].isin([TEST, VALIDATION]).sum()

    read, _, _ = fit_preprocessor(plays, users, tracks)
    split, _, _ = fit_preprocessor(training_rows(whole), users, tracks)
    assert read.fill_values == split.fill_values and read.categories == split.categories
    for column, scaler in split.scalers.items():
        assert np.array_equal(read.scalers[column].center_, scaler.center_)
        assert np.array_equal(read.scalers[column].scale_, scaler.scale_)
    for column, vectorizer in split.vectorizers.items():
        assert read.vectorizers[column].vocabulary_ == vectorizer.vocabulary_
        assert np.array_equal(read.vectorizers[column].idf_, vectorizer.idf_)


def test_split_rows_of_every_part_come_in_table_order(tmp_path):
    labels = ", ".join(f"'{part}'" for part in SPLITS)
    with warehouse.connect(tmp_path / "w.duckdb") as con:
        con.execute(
            f"CREATE TABLE {s.SPLITS_TABLE} AS SELECT 'u' || i AS {s.USER_ID}, "
            f"[{labels}][1 + i % {len(SPLITS)}] AS {s.SPLIT} FROM range(1000000) r(i)"
        )
        rows = read_split_rows(con, SPLITS, [s.USER_ID])
    assert rows[s.USER_ID].tolist() == [f"u{i}" for i in range(1_000_000)]
