"""mlway plan: size GPUs and cost for an LLM workload from its non-functional requirements.

Model spec + quantization -> memory per GPU option (as the engine computes it) -> roofline timing
with efficiency factors -> queueing at the target load -> options ranked by cost, with the reason
each rejected option failed. ``calibrate`` fits the efficiency factors from ``mlway bench`` runs.
"""

from mlway.plan.calibrate import Calibration, calibrate
from mlway.plan.catalog import Catalog, load_catalog
from mlway.plan.deployment import Deployment
from mlway.plan.engines import ENGINES, get_engine
from mlway.plan.factors import DEFAULT_FACTORS, Factors, Profile, load_profile
from mlway.plan.gpus import GpuSpec
from mlway.plan.hfconfig import load_hf_config, spec_from_hf_config
from mlway.plan.knobs import EngineKnobs
from mlway.plan.memory import MemoryBreakdown
from mlway.plan.modelspec import ModelSpec
from mlway.plan.quant import QuantScheme, all_schemes, get_scheme
from mlway.plan.recommendation import Band, Option, Plan, Rejected
from mlway.plan.search import PlanRequest, recommend
from mlway.plan.sizing import memory_for, plan_for
from mlway.plan.workload import Preset, SloTarget, TokenDist, Workload, parse_slo

__all__ = [
    "DEFAULT_FACTORS",
    "ENGINES",
    "Band",
    "Calibration",
    "Catalog",
    "Deployment",
    "EngineKnobs",
    "Factors",
    "GpuSpec",
    "MemoryBreakdown",
    "ModelSpec",
    "Option",
    "Plan",
    "PlanRequest",
    "Preset",
    "Profile",
    "QuantScheme",
    "Rejected",
    "SloTarget",
    "TokenDist",
    "Workload",
    "all_schemes",
    "calibrate",
    "get_engine",
    "get_scheme",
    "load_catalog",
    "load_hf_config",
    "load_profile",
    "memory_for",
    "parse_slo",
    "plan_for",
    "recommend",
    "spec_from_hf_config",
]
