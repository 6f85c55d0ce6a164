"""The seeded synthetic catalogue: users, tracks and plays with known tastes."""
