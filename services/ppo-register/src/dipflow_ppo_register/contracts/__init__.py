"""The events the ppo-register service publishes and the events it reads."""
