"""``mlway.serve``: many models behind one HTTP endpoint, over ``mlway.runtime``'s workers and quotas.

Install with ``pip install 'mlway[serve]'`` (``mlway[serve-build]`` to build the MiniLM bundle).

    with Server(load_bundles("models/"), Budget(memory="6GiB", cpus=2), ServeSettings(port=8080)) as server:
        server.start()      # HostStatus: which variant of each model serves, and why
        server.run()        # HTTP until SIGINT/SIGTERM

Routes: KServe v2 / Open Inference Protocol REST (``/v2/health/{live,ready}``, ``/v2``, ``/v2/models``
with each model's serving variant and reason, ``/v2/models/{name}[/versions/{v}][/ready|/infer]``),
OpenAI ``POST /v1/embeddings`` and ``GET /v1/models`` for embed models, Prometheus ``/metrics``, and
the OpenAPI document at ``/openapi.json``.

Batching: per model, requests that arrive while its worker is busy are stacked into one call of up to
``max_batch_size`` items (``ServeSettings`` defaults; ``mlway-serve.yaml`` beside a bundle overrides,
see ``ModelServeSettings``). At most ``quota.max_queue`` requests wait; more get 429 at once. A
request past its deadline gets 504 naming the setting to raise.

``create_app(state)`` builds the ASGI app for embedding in another server; ``build_minilm(out)``
exports all-MiniLM-L6-v2 (fp32 + selective int8) as a bundle; ``TextEncoder`` tokenizes and pools.
"""

from mlway.serve.app import create_app
from mlway.serve.minilm import build_minilm
from mlway.serve.server import Server
from mlway.serve.settings import ModelServeSettings, ServeSettings
from mlway.serve.text import TextEncoder

__all__ = ["ModelServeSettings", "ServeSettings", "Server", "TextEncoder", "build_minilm", "create_app"]
