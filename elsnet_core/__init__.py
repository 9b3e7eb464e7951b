"""ELSNet core: one annotated study (or one slice) -> a segmentation model for the cohort.

Public API (see docs/CONTRACT.md): ``fit``, ``FitResult``, ``ProgressEvent``, ``Predictor``,
``Prediction``, ``PRESETS``. Pure torch + numpy + imaging libraries.
"""

from elsnet_core.api import FitResult, ProgressEvent, fit
from elsnet_core.config import PRESETS, ElsnetConfig
from elsnet_core.predictor import Prediction, Predictor

__all__ = ["PRESETS", "ElsnetConfig", "FitResult", "Prediction", "Predictor", "ProgressEvent", "fit"]
