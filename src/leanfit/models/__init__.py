"""Model families, one per module, registered by name (``models/base.py``: ``Model``, the registry).

A model declares its parameters and the engine options it reads, and fits and predicts one fit
group; engines are imported only when a model fits. Nothing here knows about resampling.
"""
