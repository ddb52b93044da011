"""The plan catalog: models, GPUs and SLO presets as YAML package data, extended by the user's own."""

from mlway.plan.catalog.loader import ENV_VAR, Catalog, load_catalog, user_dir

__all__ = ["ENV_VAR", "Catalog", "load_catalog", "user_dir"]
