"""Offline datasets: OGBench (official or regenerated), D4RL and Minari files."""
