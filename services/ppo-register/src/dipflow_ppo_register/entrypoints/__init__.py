"""Entrypoints of the PPO register service."""
