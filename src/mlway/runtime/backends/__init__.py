"""Backend implementations; each imports its engine lazily inside ``load``."""
