"""Network building blocks: multi-layer perceptrons, input standardisation and device choice.

PyTorch is imported when this module is imported; nothing imports this module at
``import leanfit`` time (models import it inside ``fit``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np

from . import ACTIVATIONS  # ("relu", "tanh", "sigmoid", "gelu", "elu", "leaky_relu")

TORCH_MISSING = "the mlp model needs PyTorch: pip install 'leanfit[torch]'"

try:
    import torch
except ImportError as exc:  # pragma: no cover - exercised only without torch
    raise ImportError(TORCH_MISSING) from exc

_ACTIVATION_CLASSES = {
    "relu": torch.nn.ReLU,
    "tanh": torch.nn.Tanh,
    "sigmoid": torch.nn.Sigmoid,
    "gelu": torch.nn.GELU,
    "elu": torch.nn.ELU,
    "leaky_relu": torch.nn.LeakyReLU,
}
_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")
DEVICES = ("auto", "cpu", "cuda", "cuda:N")


def check_device_name(device: Any) -> None:
    """Raise ValueError unless ``device`` is one of "auto", "cpu", "cuda", "cuda:N"."""
    if not isinstance(device, str) or not _DEVICE.match(device):
        raise ValueError(f"device={device!r} is not valid: use one of {', '.join(DEVICES)}")


def resolve_device(device: str) -> torch.device:
    """ "auto" → CUDA when available, else the CPU; "cpu"; "cuda" / "cuda:N" (must exist)."""
    if isinstance(device, torch.device):
        device = str(device)
    check_device_name(device)
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} but CUDA is not available to PyTorch {torch.__version__} "
            "(no GPU, or a CPU-only build); use device='cpu' or 'auto'"
        )
    index = int(device.split(":")[1]) if ":" in device else None
    if index is not None and index >= torch.cuda.device_count():
        raise ValueError(
            f"device={device!r} but only {torch.cuda.device_count()} CUDA device(s) exist "
            f"(cuda:0..cuda:{torch.cuda.device_count() - 1})"
        )
    return torch.device(device)


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name}={value!r} must be a positive whole number")
    return int(value)


def build_mlp(
    n_inputs: int,
    n_outputs: int,
    hidden: Sequence[int],
    activation: str = "relu",
    dropout: float = 0.0,
) -> torch.nn.Sequential:
    """A multi-layer perceptron: per hidden layer ``Linear``, activation and ``Dropout`` (always
    present, an identity at ``dropout=0``, so the layout of the state dict depends only on the
    layer sizes), then a ``Linear`` output layer. ``hidden=()`` gives a linear model.

    Parameters are initialised by PyTorch's global generator (see :func:`seeded_mlp`).
    """
    n_inputs = _positive_int("n_inputs", n_inputs)
    n_outputs = _positive_int("n_outputs", n_outputs)
    if isinstance(hidden, str | bytes) or not isinstance(hidden, Sequence | np.ndarray):
        raise ValueError(f"hidden={hidden!r} must be a sequence of layer sizes, e.g. (64, 64)")
    sizes = [_positive_int(f"hidden[{i}]", h) for i, h in enumerate(hidden)]
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"activation={activation!r} is not valid: use one of {', '.join(ACTIVATIONS)}"
        )
    if (
        isinstance(dropout, bool)
        or not isinstance(dropout, Real)
        or not math.isfinite(dropout)
        or not 0.0 <= dropout < 1.0
    ):
        raise ValueError(f"dropout={dropout!r} must be a number in [0, 1)")
    layers: list[torch.nn.Module] = []
    width = n_inputs
    for h in sizes:
        layers += [
            torch.nn.Linear(width, h),
            _ACTIVATION_CLASSES[activation](),
            torch.nn.Dropout(float(dropout)),
        ]
        width = h
    layers.append(torch.nn.Linear(width, n_outputs))
    return torch.nn.Sequential(*layers)


def seeded_mlp(spec: dict[str, Any], seed: int) -> torch.nn.Sequential:
    """``build_mlp(**spec)`` with parameters initialised from ``seed`` (the global PyTorch
    generator is left as it was): the same spec and seed give the same network anywhere."""
    mixed = int(np.random.SeedSequence([int(seed) % 2**63, 0x4E4E]).generate_state(1)[0])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(mixed)
        return build_mlp(**spec)


class Standardize(torch.nn.Module):
    """``(x - center) / scale`` with float32 buffers, so an exported network takes raw features."""

    center: torch.Tensor  # registered buffers
    scale: torch.Tensor

    def __init__(self, center: np.ndarray, scale: np.ndarray) -> None:
        super().__init__()
        c = np.asarray(center, dtype=np.float32).reshape(-1)
        s = np.asarray(scale, dtype=np.float32).reshape(-1)
        if c.shape != s.shape:
            raise ValueError(f"center has {c.size} values but scale has {s.size}")
        if not (np.isfinite(c).all() and np.isfinite(s).all() and (s != 0).all()):
            raise ValueError("center and scale must be finite and scale nonzero")
        self.register_buffer("center", torch.from_numpy(c.copy()))
        self.register_buffer("scale", torch.from_numpy(s.copy()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.center) / self.scale


def inference_network(
    spec: dict[str, Any],
    mlp_state: dict[str, np.ndarray],
    center: np.ndarray,
    scale: np.ndarray,
    output_affine: tuple[float, float] | None = None,
) -> torch.nn.Sequential:
    """A trained MLP rebuilt for prediction and export: ``Standardize`` + the MLP (+ the map
    ``y * scale + center`` given as ``output_affine=(scale, center)``, for regression), frozen,
    in eval mode on the CPU: raw float32 features in, logits or predictions out."""
    mlp = build_mlp(**spec)
    mlp.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in mlp_state.items()})
    parts: list[torch.nn.Module] = [Standardize(center, scale), mlp]
    if output_affine is not None:
        out = torch.nn.Linear(1, 1)
        with torch.no_grad():
            out.weight.fill_(float(output_affine[0]))
            out.bias.fill_(float(output_affine[1]))
        parts.append(out)
    net = torch.nn.Sequential(*parts)
    for p in net.parameters():
        p.requires_grad_(False)
    return net.eval()


def count_parameters(module: torch.nn.Module) -> int:
    """The number of parameter values (weights and biases) in ``module``."""
    return int(sum(p.numel() for p in module.parameters()))
