"""Pure domain rules of the breach service: no I/O, no framework imports."""
