"""The distillation loss (Hinton, Vinyals & Dean 2015).

Classification: ``alpha · CE(labels) + (1 − alpha) · T² · KL(teacher_T ‖ student_T)``, where
``x_T = softmax(logits / T)``. The KL term uses the batch-mean reduction (sum over classes, mean
over rows): PyTorch's ``KLDivLoss()`` default ("mean") divides by rows × classes, which shrinks
the soft term by the number of classes — the mistake in the seed's code. T² keeps the soft
term's gradients on the scale of the hard term's as T changes. Synthetic transfer rows have no
label (code -1): the CE term averages over the labelled rows of the batch only.

Regression: ``alpha · MSE(labels) + (1 − alpha) · MSE(teacher outputs)`` on standardised targets
(labels NaN on synthetic rows).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from leanfit.models.base import CLASSIFICATION


def check_temperature_alpha(T: float, alpha: float) -> None:
    """T must be > 0 and alpha in [0, 1]; say which is wrong and why."""
    try:
        T, alpha = float(T), float(alpha)
    except (TypeError, ValueError):
        raise ValueError(f"T and alpha must be numbers, got T={T!r}, alpha={alpha!r}") from None
    if not T > 0:
        raise ValueError(
            f"temperature T must be > 0 (1 = the teacher's own probabilities), got {T!r}"
        )
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(
            f"alpha must be in [0, 1] (the weight of the hard-label term; 0 = teacher only), "
            f"got {alpha!r}"
        )


def distillation_loss(mode: str, T: float, alpha: float) -> Callable[[Any, tuple[Any, ...]], Any]:
    """The loss for ``leanfit.nn.train_network``: targets are (labels, teacher outputs)."""
    import torch
    import torch.nn.functional as F

    check_temperature_alpha(T, alpha)
    T, alpha = float(T), float(alpha)

    if mode == CLASSIFICATION:

        def loss(out: torch.Tensor, targets: tuple[torch.Tensor, ...]) -> torch.Tensor:
            labels, teacher = targets
            total = out.new_zeros(())
            if alpha < 1.0:
                kl = F.kl_div(
                    F.log_softmax(out / T, dim=1),
                    F.log_softmax(teacher / T, dim=1),
                    reduction="batchmean",
                    log_target=True,
                )
                total = total + (1.0 - alpha) * T * T * kl
            if alpha > 0.0:
                seen = labels >= 0
                if bool(seen.any()):
                    total = total + alpha * F.cross_entropy(out[seen], labels[seen])
            return total

        return loss

    def loss_reg(out: torch.Tensor, targets: tuple[torch.Tensor, ...]) -> torch.Tensor:
        labels, teacher = targets
        out = out.reshape(-1)
        total = out.new_zeros(())
        if alpha < 1.0:
            total = total + (1.0 - alpha) * F.mse_loss(out, teacher.reshape(-1))
        if alpha > 0.0:
            seen = ~torch.isnan(labels)
            if bool(seen.any()):
                total = total + alpha * F.mse_loss(out[seen], labels[seen])
        return total

    return loss_reg
