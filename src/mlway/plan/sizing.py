"""Entry points the CLI calls: the memory of one configuration, and a whole recommendation."""

from __future__ import annotations

from mlway.plan.catalog import Catalog
from mlway.plan.deployment import Deployment
from mlway.plan.engines import get_engine
from mlway.plan.knobs import EngineKnobs
from mlway.plan.memory import MemoryBreakdown
from mlway.plan.modelspec import ModelSpec
from mlway.plan.quant import get_scheme, native_scheme
from mlway.plan.recommendation import Plan
from mlway.plan.search import PlanRequest, recommend


def memory_for(
    catalog: Catalog,
    model: str,
    gpu: str,
    *,
    tp: int = 1,
    quant: str | None = None,
    engine: str = "vllm",
    knobs: EngineKnobs | None = None,
    max_context: int | None = None,
) -> tuple[ModelSpec, MemoryBreakdown]:
    """The memory of one GPU for a model on ``tp`` GPUs; max_context defaults to the model's own."""
    spec = catalog.model(model)
    scheme = get_scheme(quant) if quant else native_scheme(spec)
    dep = Deployment(spec, scheme, catalog.gpu(gpu), tp, knobs or EngineKnobs())
    mem = get_engine(engine).memory(dep, max_context or spec.max_position_embeddings)
    return spec, mem


def plan_for(catalog: Catalog, model: str, request: PlanRequest) -> tuple[ModelSpec, Plan]:
    """The ranked options for a model (catalog name or config.json) and a workload."""
    spec = catalog.model(model)
    return spec, recommend(spec, request, catalog)
