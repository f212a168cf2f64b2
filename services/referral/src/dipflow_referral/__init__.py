"""dipflow referral service: Required assessments, worker assignment, attendance and restriction on bail (RULES.md sections A and B)."""
