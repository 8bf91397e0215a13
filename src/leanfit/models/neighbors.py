"""Nearest-neighbour models (see the model contract in base.py)."""
