"""dipflow referral service: Required assessments, worker assignment, attendance and restriction on bail (docs/rules.md sections A and B)."""
