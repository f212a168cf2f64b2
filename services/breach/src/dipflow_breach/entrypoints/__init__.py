"""Entrypoints: HTTP routers, consumer loops, timer loops."""
