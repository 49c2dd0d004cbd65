"""sgpt-eval: evaluate SGPT bi-encoders and cross-encoders on BEIR and USEB as the SGPT paper does."""

from .beir_data import BeirDataset, load as load_beir
from .dense_search import search
from .encoder import SGPTBiEncoder
from .errors import SgptEvalError
from .metrics import evaluate
from .model_store import resolve as resolve_model
from .presets import PRESETS, ModelPreset

__all__ = [
    "BeirDataset", "ModelPreset", "PRESETS", "SGPTBiEncoder", "SgptEvalError",
    "evaluate", "search", "load_beir", "resolve_model",
]
__version__ = "0.1.0"
