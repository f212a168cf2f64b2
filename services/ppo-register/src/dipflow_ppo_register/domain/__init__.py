"""Pure rules of the PPO register."""
