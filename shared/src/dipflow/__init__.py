"""dipflow shared library: what every dipflow service is built from."""

__version__ = "0.1.0"
