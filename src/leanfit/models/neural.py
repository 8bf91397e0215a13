"""Neural networks: scikit-learn MLP now; PyTorch networks come later."""
