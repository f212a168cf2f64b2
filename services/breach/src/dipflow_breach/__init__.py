"""dipflow breach service: DRR enforcement, warnings and breaches, PPO fast track and arrest requests (RULES.md section D)."""
