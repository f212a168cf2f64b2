"""dipflow ppo-register service: The Prolific and Priority Offender register, its history and the tested-positive list (docs/rules.md section P)."""
