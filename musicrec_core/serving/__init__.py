"""Serving: what is published, how it is published atomically, and stored artifacts."""
