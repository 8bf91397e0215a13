"""Error paths made explicit while typing the code (issue 17): they raised an obscure TypeError
from inside the code before; now the message names the value at fault."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import leanfit as lf
from leanfit.importance import var_imp
from leanfit.models.base import Param


def test_random_draw_of_a_boundless_parameter_names_it():
    with pytest.raises(TypeError, match="parameter 'alpha' needs low and high"):
        Param("alpha", "float").sample(np.random.default_rng(0), 3)


def test_permutation_importance_refuses_a_bool_for_resamples():
    rng = np.random.default_rng(1)
    df = pd.DataFrame(rng.normal(size=(40, 2)), columns=["a", "b"])
    df["y"] = 2 * df["a"] + rng.normal(size=40)
    fit = lf.train(df, "y", method="lm", control=lf.Control(method="cv", number=3), seed=1)
    with pytest.raises(TypeError, match="resamples=True must be a count or a list of positions"):
        var_imp(fit, method="permutation", resamples=True)
