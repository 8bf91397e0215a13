"""leanfit: train, tune, compare and compress models with honest resampling.

The public API is re-exported here lazily, so ``import leanfit`` stays light: engines and even
pandas-heavy modules load on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "train": "leanfit.tuning.train",
    "TrainResult": "leanfit.tuning.result",
    "Control": "leanfit.control",
    "PreProcess": "leanfit.preprocess",
    "ImputedWarning": "leanfit.frame",
    "expand_grid": "leanfit.models.base",
    "Model": "leanfit.models.base",
    "Param": "leanfit.models.base",
    "uniform": "leanfit.models.space",
    "loguniform": "leanfit.models.space",
    "integer": "leanfit.models.space",
    "choice": "leanfit.models.space",
    "get_model": "leanfit.models.base",
    "registry": "leanfit.models.base",
    "partition": "leanfit.splits",
    "kfold": "leanfit.splits",
    "repeated_kfold": "leanfit.splits",
    "bootstrap": "leanfit.splits",
    "lgocv": "leanfit.splits",
    "loocv": "leanfit.splits",
    "group_kfold": "leanfit.splits",
    "time_slices": "leanfit.splits",
    "best": "leanfit.selection",
    "one_se": "leanfit.selection",
    "tolerance": "leanfit.selection",
    "IncompleteResamplesWarning": "leanfit.selection",
    "summarize": "leanfit.metrics",
    "resamples": "leanfit.compare",
    "explain": "leanfit.explanations",
    "Explanation": "leanfit.explanations",
    "ensemble": "leanfit.fusion",
    "Compressed": "leanfit.compression",
    "compress": "leanfit.compression",
    "EnsembleResult": "leanfit.fusion",
    "leaderboard": "leanfit.ranking",
    "Leaderboard": "leanfit.ranking",
    "learning_curve": "leanfit.learning",
    "learning_curve_of": "leanfit.learning",
    "nested": "leanfit.nesting",
    "NestedResult": "leanfit.nesting",
    "write_report": "leanfit.report",
    "write_stored_report": "leanfit.restore",
    "Store": "leanfit.store",
    "restore_fit": "leanfit.restore",
    "var_imp": "leanfit.importance",
    "rfe": "leanfit.featsel",
    "sbf": "leanfit.featsel",
    "gafs": "leanfit.featsel",
    "safs": "leanfit.featsel",
    "distill": "leanfit.distillation",
    "Teacher": "leanfit.distillation",
    "LeanfitClassifier": "leanfit.estimator",
    "LeanfitRegressor": "leanfit.estimator",
    "monitor": "leanfit.monitoring",
    "MonitorResult": "leanfit.monitoring",
    "read_request_logs": "leanfit.monitoring",
    "save_bundle": "leanfit.bundle",
    "load_bundle": "leanfit.bundle",
    "Bundle": "leanfit.bundle",
    "BundleError": "leanfit.bundle",
    "retrain": "leanfit.renewal",
    "renewals": "leanfit.renewal",
    "Renewal": "leanfit.renewal",
}
_MODULES = {
    "datasets": "leanfit.datasets",
    "metrics": "leanfit.metrics",
    "splits": "leanfit.splits",
    "plots": "leanfit.plots",
}

__all__ = sorted([*_EXPORTS, *_MODULES])


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    if name in _MODULES:
        return import_module(_MODULES[name])
    raise AttributeError(f"module 'leanfit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
