"""Rollout videos of a trained run's policy (``drol video``)."""
