"""dipflow ppo-register service: The Prolific and Priority Offender register, its history and the tested-positive list (RULES.md section P)."""
