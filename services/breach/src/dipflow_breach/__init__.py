"""dipflow breach service: DRR enforcement, warnings and breaches, PPO fast track and arrest requests (docs/rules.md section D)."""
