"""Recommenders behind one interface: popularity, neighbours, EASE and the hybrid."""
