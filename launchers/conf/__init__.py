"""Hydra configuration of the arena sweep app (config.yaml and groups)."""
