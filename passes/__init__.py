"""Pure graph-to-graph transforms: discovery, annotation, lowering, strip.

Nothing here runs a model: this package imports onnx and numpy only.
"""

from .annotate import (
    SimDraw,
    SimInterface,
    SimLayer,
    annotate,
    lower_for_simulation,
    read_plan,
)
from .discover import Discovery, LayerInfo, discover, is_annotated
from .expand_recurrent import expand_recurrent
from .model_io import (
    external_data_dir,
    infer_shapes,
    load_model,
    offload_weights,
    restore_weights,
    save_model,
)
from .naming import name_nodes
from .noise import TERMS, NoiseModel, NoiseTerm
from .ops import HANDLERS
from .plan import LayerPlan, Plan
from .result import PassResult
from .strip import strip
from .upgrade import upgrade_model

__all__ = [
    "HANDLERS",
    "TERMS",
    "Discovery",
    "LayerInfo",
    "LayerPlan",
    "NoiseModel",
    "NoiseTerm",
    "PassResult",
    "Plan",
    "SimDraw",
    "SimInterface",
    "SimLayer",
    "annotate",
    "discover",
    "expand_recurrent",
    "external_data_dir",
    "infer_shapes",
    "is_annotated",
    "load_model",
    "lower_for_simulation",
    "name_nodes",
    "offload_weights",
    "read_plan",
    "restore_weights",
    "save_model",
    "strip",
    "upgrade_model",
]
