"""Predictors: the project's checkpoints and the field's published geolocators behind one protocol.

``load_predictor("geoclip")``, ``load_predictor("streetclip-zeroshot")``, ``load_predictor("clip-zeroshot")``
or ``load_predictor("runs/x/model.pt")``; every one answers with :class:`model.net.answer.Prediction`
through the same per-place answer (:mod:`model.predictors.base` states the protocol). Missing weights
raise :class:`WeightsMissing` naming what to download; nothing is downloaded without asking.
"""
from .base import GeoPredictor, NetPredictor
from .registry import (
                       MODEL_ENV,
                       PREDICTORS,
                       Availability,
                       PredictorSpec,
                       app_model,
                       availability,
                       get_spec,
                       is_predictor_name,
                       load_app_predictor,
                       load_predictor,
                       predictor_names,
)
from .download import ProgressFn, download
from .weights import WeightsInfo, WeightsMissing

__all__ = [
                       "MODEL_ENV",
                       "PREDICTORS",
                       "Availability",
                       "GeoPredictor",
                       "NetPredictor",
                       "PredictorSpec",
                       "ProgressFn",
                       "WeightsInfo",
                       "WeightsMissing",
                       "app_model",
                       "availability",
                       "download",
                       "get_spec",
                       "is_predictor_name",
                       "load_app_predictor",
                       "load_predictor",
                       "predictor_names",
]
