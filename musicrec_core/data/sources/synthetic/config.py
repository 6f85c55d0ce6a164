"""SyntheticConfig: the size, seed, dirtiness and date range of a catalogue, and named presets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from musicrec_core.data.sources.synthetic.genres import MIN_YEAR

# --- presets ---------------------------------------------------------------------------------
_PRESETS = {"tiny": (80, 200, 3_000), "demo": (2_000, 5_000, 160_000)}
_DEMO_USERS, _DEMO_TRACKS, _DEMO_PLAYS = _PRESETS["demo"]
_MIN_TRACKS = 30


@dataclass(frozen=True)
class SyntheticConfig:
    """Size, seed, dirtiness and date range of a synthetic catalogue."""

    n_users: int
    n_tracks: int
    n_plays: int  # target number of (user, track) rows
    seed: int = 42
    dirty_rate: float = 0.01  # fraction of rows per table made dirty
    start_date: date = date(2023, 1, 1)  # range of played_at
    end_date: date = date(2025, 12, 31)
    reference_year: int = 2026  # "now", from which users' ages count back

    def __post_init__(self) -> None:
        if self.n_users < 1 or self.n_tracks < _MIN_TRACKS:
            raise ValueError(f"need n_users >= 1 and n_tracks >= {_MIN_TRACKS}")
        if self.n_plays < self.n_users:
            raise ValueError("n_plays must be at least n_users (every user plays something)")
        if not 0.0 <= self.dirty_rate <= 0.5:
            raise ValueError("dirty_rate must lie in [0, 0.5]")
        if not self.start_date <= self.end_date or self.end_date.year < MIN_YEAR:
            raise ValueError("need start_date <= end_date, ending after 1960")

    @classmethod
    def preset(
        cls, name: str = "demo", *, seed: int = 42, dirty_rate: float = 0.01
    ) -> SyntheticConfig:
        """A named size: "tiny" (80 users, 200 tracks, ~3k plays) or "demo" (2k, 5k, 160k)."""
        if name not in _PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose from {sorted(_PRESETS)}")
        n_users, n_tracks, n_plays = _PRESETS[name]
        return cls(n_users, n_tracks, n_plays, seed=seed, dirty_rate=dirty_rate)

    @classmethod
    def scaled(cls, n_plays: int, *, seed: int = 42, dirty_rate: float = 0.01) -> SyntheticConfig:
        """A catalogue of about ``n_plays`` rows with users and tracks in the demo's ratios."""
        n_users = max(1, round(n_plays * _DEMO_USERS / _DEMO_PLAYS))
        n_tracks = max(_MIN_TRACKS, round(n_plays * _DEMO_TRACKS / _DEMO_PLAYS))
        return cls(n_users, n_tracks, max(n_plays, n_users), seed=seed, dirty_rate=dirty_rate)
