"""Aggregation, tables and figures from run directories."""
