"""Single trees, bagging and forests (see the model contract in base.py)."""
