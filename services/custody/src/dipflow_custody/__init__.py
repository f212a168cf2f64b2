"""dipflow custody service: Detentions, trigger-offence checks, test eligibility, samples and results (docs/rules.md section T)."""
