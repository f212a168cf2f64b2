"""Pure domain rules of the referral service: no I/O, no framework imports."""
