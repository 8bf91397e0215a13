"""PyCaret's compare_models on Sonar, the peer of benchmarks/leaderboard.py: 10-fold CV, 2 jobs,
PyCaret's default model list, default hyperparameters (it tunes nothing here).

Run it with a PyCaret environment's Python, not leanfit's (PyCaret 3.3 pins numpy < 1.27,
pandas < 2.2, scipy <= 1.11.4, matplotlib < 3.8, which leanfit's environment cannot meet):

    python3.11 -m venv /tmp/pyc && /tmp/pyc/bin/pip install pycaret==3.3.2
    /tmp/pyc/bin/python benchmarks/reference/pycaret_sonar.py src/leanfit/datasets/sonar.csv
"""

from __future__ import annotations

import sys
import time

import pandas as pd
from pycaret.classification import compare_models, pull, setup

data = pd.read_csv(sys.argv[1] if len(sys.argv) > 1 else "src/leanfit/datasets/sonar.csv")
t0 = time.perf_counter()
# train_size near 1: cross-validate on (nearly) all 208 rows, as the leanfit leaderboard does
setup(data, target="Class", fold=10, train_size=0.99, n_jobs=2, session_id=1, verbose=False)
compare_models(n_select=1, verbose=False)
wall = time.perf_counter() - t0
table = pull()
print(table.to_string())
print(
    f"\nfigure: PyCaret compare_models, {len(table)} models on Sonar, 10-fold CV, 2 jobs: "
    f"{wall:.1f} s wall (setup included)"
)
