"""Over-fitting and its controls: a big PyTorch MLP on Sonar (208 rows, 60 predictors).

Without regularisation the network learns the training rows perfectly, far better than it
predicts rows it has not seen; dropout with an L2 penalty, or early stopping, close much of that
gap. For each variant: training (apparent) accuracy, the final model fitted on all rows scored
on those rows; resampled accuracy, 5-fold cross-validation; and their difference.

    python examples/overfitting.py
"""

from __future__ import annotations

import pandas as pd

import leanfit as lf
from leanfit.models.neural import MLP

# A big network (two hidden layers of 128 units, Adam at lr 0.01) trained for 100 epochs.
BIG = {"units": 128, "layers": 2, "lr": 0.01, "batch_size": 64, "epochs": 100}
VARIANTS = {
    "no regularisation": (BIG, {}),
    "dropout 0.5 + L2 0.1": ({**BIG, "dropout": 0.5, "l2": 0.1}, {}),
    "early stopping": (BIG, {"early_stopping": True, "validation_fraction": 0.2, "patience": 3}),
}


def overfitting_table(seed: int = 11, folds: int = 5) -> pd.DataFrame:
    """Training, resampled accuracy and their gap for each variant."""
    sonar = lf.datasets.load("sonar")
    rows = {}
    for name, (params, options) in VARIANTS.items():
        grid = {"l2": 0.0, **params}
        model = MLP(options={"device": "cpu", **options})
        res = lf.train(
            "Class ~ .",
            data=sonar,
            method=model,
            grid={k: [v] for k, v in grid.items()},
            control=lf.Control(method="cv", number=folds),
            seed=seed,
        )
        resampled = float(res.results["Accuracy"].iloc[0])
        training = float((res.predict(sonar) == sonar["Class"]).mean())
        rows[name] = {"training": training, "resampled": resampled, "gap": training - resampled}
    return pd.DataFrame.from_dict(rows, orient="index")


if __name__ == "__main__":
    print(overfitting_table().round(3).to_string())
