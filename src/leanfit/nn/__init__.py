"""PyTorch networks for leanfit: building blocks (``network``), a reusable training core with
any loss (``training``) and data-parallel training (``ddp``).

Nothing here is imported by ``import leanfit`` or by the model registry: the ``mlp`` model and
distillation import these modules when they fit, so PyTorch stays an optional dependency
(``pip install 'leanfit[torch]'``). The names below are re-exported lazily.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# The choices, here so that the model library can declare its parameters without PyTorch.
ACTIVATIONS = ("relu", "tanh", "sigmoid", "gelu", "elu", "leaky_relu")
OPTIMIZERS = ("sgd", "adam", "rmsprop", "adagrad", "adadelta")
SCHEDULES = ("constant", "step", "cosine", "exponential", "plateau")

_EXPORTS = {
    "resolve_device": "leanfit.nn.network",
    "build_mlp": "leanfit.nn.network",
    "seeded_mlp": "leanfit.nn.network",
    "Standardize": "leanfit.nn.network",
    "count_parameters": "leanfit.nn.network",
    "TrainOptions": "leanfit.nn.training",
    "TrainOutcome": "leanfit.nn.training",
    "TrainingDiverged": "leanfit.nn.training",
    "train_network": "leanfit.nn.training",
    "train_ddp": "leanfit.nn.ddp",
}

__all__ = sorted([*_EXPORTS, "ACTIVATIONS", "OPTIMIZERS", "SCHEDULES"])


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'leanfit.nn' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
