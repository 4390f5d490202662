"""D4RL 1.1 environments in their own Python 3.10 venv, driven from our process by a worker.

- :mod:`drol.d4rl.install`: ``drol d4rl setup`` builds the venv (pins, mjrl stand-in, compile);
- :mod:`drol.d4rl.worker`: the worker script, run by that venv's Python (no torch, numpy < 2);
- :mod:`drol.d4rl.protocol`: the pipe protocol both sides speak (length-prefixed JSON + .npy);
- :mod:`drol.d4rl.client`: a gymnasium-style env over the worker, used for evaluation.
"""
