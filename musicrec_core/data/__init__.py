"""The data path: schema, sources, landing, validation, features and the split."""
