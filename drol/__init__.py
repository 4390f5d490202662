"""DROL: dynamic routing for offline RL — a PyTorch reproduction with FQL baseline."""

__version__ = "0.1.0"
