"""Pure domain rules of the custody service: no I/O, no framework imports."""
