"""``musicrec recommend | new-tracks | similar | cold-start | explain``: questions answered from the
published serving database, printed as a table, JSON or CSV."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from musicrec_core.answers import DEFAULT_K, Answer, Answers, Explanation
from musicrec_core.data import schema as s
from musicrec_core.evaluation import NEW_TRACKS

FORMATS = ("table", "json", "csv")
MAX_CELL = 90  # characters of a reason shown in a table cell


def render(result: Answer | Explanation, fmt: str) -> str:
    """The answer as text: an aligned table under a one-line heading, JSON, or CSV rows."""
    if fmt == "json":
        return json.dumps(result.to_dict(), indent=1, default=str) + "\n"
    rows = result.items if isinstance(result, Answer) else result.reasons
    if fmt == "csv":
        return rows.to_csv(index=False)
    return f"{heading(result)}\n{_table(rows)}\n"


def heading(result: Answer | Explanation) -> str:
    """One line saying what was asked and who answered."""
    if isinstance(result, Explanation):
        where = f"rank {result.rank} of" if result.rank else "not in"
        played = f", played {result.plays} times" if result.plays else ""
        return (
            f"{result.track} for user {result.user_id}: {where} their list "
            f"({result.audience} listener, {result.model_name} model{played})"
        )
    question = result.question
    if result.audience == NEW_TRACKS:
        subject = f"new tracks for user {question[s.USER_ID]}"
    elif s.USER_ID in question:
        subject = f"user {question[s.USER_ID]}"
    elif s.TRACK_ID in question:
        subject = f"tracks like {question[s.TRACK_ID]}"
    else:
        parts = [f"age {question[s.AGE]:g}" if question[s.AGE] is not None else None]
        parts.append(f"gender {question[s.GENDER]}")
        parts.append(f"{len(question['played'])} tracks played")
        subject = "a new listener (" + ", ".join(p for p in parts if p) + ")"
    version = f" {result.model_version}" if result.model_version else ""
    return f"{subject}: {result.audience}, answered by {result.model_name}{version}"


def _table(rows: pd.DataFrame) -> str:
    if rows.empty:
        return "(nothing to show)"
    shown = rows.copy()
    for column in shown.select_dtypes(include="object").columns:
        text = shown[column].astype(str)
        shown[column] = text.where(text.str.len() <= MAX_CELL, text.str[: MAX_CELL - 1] + "…")
    return shown.to_string(index=False)


def _answers(args: argparse.Namespace) -> Answers:
    return Answers.open(Path(args.data_dir).resolve())


def _recommend(args: argparse.Namespace) -> int:
    answer = _answers(args).recommend(args.user_id, k=args.k, diversity=args.diversity)
    sys.stdout.write(render(answer, args.format))
    return 0


def _new_tracks(args: argparse.Namespace) -> int:
    sys.stdout.write(render(_answers(args).new_tracks(args.user_id, k=args.k), args.format))
    return 0


def _similar(args: argparse.Namespace) -> int:
    sys.stdout.write(render(_answers(args).similar(args.track_id, k=args.k), args.format))
    return 0


def _cold_start(args: argparse.Namespace) -> int:
    answer = _answers(args).cold_start(
        age=args.age, gender=args.gender, played=args.played, k=args.k, diversity=args.diversity
    )
    sys.stdout.write(render(answer, args.format))
    return 0


def _explain(args: argparse.Namespace) -> int:
    sys.stdout.write(render(_answers(args).explain(args.user_id, args.track_id), args.format))
    return 0


def add_answer_commands(add_command: Callable[..., argparse.ArgumentParser]) -> None:
    """Declare the question commands through the CLI's ``add_command(name, handler, help,
    *parents)``."""
    output = argparse.ArgumentParser(add_help=False)
    output.add_argument("--format", choices=FORMATS, default="table", help="output format")
    listing = argparse.ArgumentParser(add_help=False)
    listing.add_argument("--k", type=int, default=DEFAULT_K, help="tracks to list (1-100)")
    diversity = argparse.ArgumentParser(add_help=False)
    diversity.add_argument(
        "--diversity",
        type=float,
        help="variety strength 0-1 for this answer (default: the published list)",
    )
    recommend = add_command(
        "recommend",
        _recommend,
        "a listener's recommendations, each with a short reason",
        output,
        listing,
        diversity,
    )
    recommend.add_argument("user_id")
    new_tracks = add_command(
        "new-tracks",
        _new_tracks,
        "a listener's pick of the tracks nobody has played yet",
        output,
        listing,
    )
    new_tracks.add_argument("user_id")
    similar = add_command(
        "similar", _similar, "tracks like a track (shared listeners, then sound)", output, listing
    )
    similar.add_argument("track_id")
    cold = add_command(
        "cold-start",
        _cold_start,
        "what a listener the platform has not seen would get, placed at once",
        output,
        listing,
        diversity,
    )
    cold.add_argument("--age", type=float, help="age in years")
    cold.add_argument("--gender", help="M, F, X or U (or male, female, non-binary, unknown)")
    cold.add_argument("--played", nargs="*", default=[], metavar="TRACK_ID", help="tracks played")
    explain = add_command(
        "explain", _explain, "why a track is (or is not) in a listener's list", output
    )
    explain.add_argument("user_id")
    explain.add_argument("track_id")
