"""Neural networks (scikit-learn MLP now; PyTorch networks later) (see the model contract in base.py)."""
