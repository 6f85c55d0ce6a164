"""The HTTP API: listeners' lists and why, a new listener's first list, tracks like a track,
and plays sent back to the landing folder, all over the published serving database."""

from musicrec_api.app import MAX_BODY_BYTES, create_app
from musicrec_api.server import serve

__all__ = ["MAX_BODY_BYTES", "create_app", "serve"]
