"""sgpt-eval: evaluate SGPT bi-encoders and cross-encoders on BEIR and USEB as the SGPT paper does."""

from .data.beir import BeirDataset, load as load_beir
from .errors import SgptEvalError
from .evaluation.metrics import evaluate
from .models.bi_encoder import SGPTBiEncoder
from .models.cross_encoder import SGPTCrossEncoder
from .models.options import ModelOptions
from .models.presets import PRESETS, ModelPreset
from .models.store import resolve as resolve_model
from .retrieval.dense import search

__all__ = [
    "BeirDataset", "ModelOptions", "ModelPreset", "PRESETS", "SGPTBiEncoder", "SGPTCrossEncoder", "SgptEvalError",
    "evaluate", "search", "load_beir", "resolve_model",
]
__version__ = "0.1.0"
