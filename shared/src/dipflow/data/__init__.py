"""Reference data shipped with the library."""
