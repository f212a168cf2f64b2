"""dipflow custody service: Detentions, trigger-offence checks, test eligibility, samples and results (RULES.md section T)."""
