"""Kernel methods other than SVMs: Gaussian processes, kernel ridge."""
