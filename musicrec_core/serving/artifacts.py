"""A versioned store of fitted artifacts (preprocessors, models) under one root folder.

Each artifact kind has folders named by version and a ``LATEST`` file naming the one in use.
Artifacts are only ever loaded from inside the root, never from a path a caller hands in.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from musicrec_core.models.recommender import model_version


@dataclass(frozen=True)
class ArtifactStore:
    """Versioned folders per artifact kind, with a pointer to the latest."""

    root: Path

    def new_version(self, kind: str) -> tuple[str, Path]:
        """A fresh, empty folder for a new version of ``kind``."""
        version = model_version()
        folder = self.root / kind / version
        suffix = 1
        while folder.exists():
            folder = self.root / kind / f"{version}-{suffix}"
            suffix += 1
        folder.mkdir(parents=True)
        return folder.name, folder

    def mark_latest(self, kind: str, version: str) -> None:
        """Point ``LATEST`` at a version, atomically."""
        self._check(kind, version)
        pointer = self.root / kind / "LATEST"
        tmp = pointer.with_suffix(".tmp")
        tmp.write_text(version)
        os.replace(tmp, pointer)

    def latest(self, kind: str) -> tuple[str, Path]:
        """The version and folder that ``LATEST`` names; FileNotFoundError if there is none."""
        pointer = self.root / kind / "LATEST"
        if not pointer.is_file():
            raise FileNotFoundError(f"no {kind} artifact yet in {self.root}; materialise it first")
        version = pointer.read_text().strip()
        return version, self._check(kind, version)

    def folder(self, kind: str, version: str) -> Path:
        """The folder of one version; FileNotFoundError if it is not in the store."""
        return self._check(kind, version)

    @property
    def served_record(self) -> Path:
        """Where the promotion gate records the model being served."""
        return self.root / "served.json"

    def _check(self, kind: str, version: str) -> Path:
        folder = (self.root / kind / version).resolve()
        if not folder.is_relative_to(self.root.resolve()) or not folder.is_dir():
            raise FileNotFoundError(f"{kind} version {version!r} is not in {self.root}")
        return folder
