"""HTTP routes, one module per resource: health, models (metadata and status), infer, OpenAI, metrics."""
