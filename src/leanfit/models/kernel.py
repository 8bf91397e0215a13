"""Kernel methods other than SVMs (Gaussian processes, kernel ridge) (see the model contract in base.py)."""
