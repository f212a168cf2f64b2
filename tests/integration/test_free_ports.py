"""The ports the devstack, the drills and the tests give their servers."""

from __future__ import annotations

import socket

from dipflow.devstack.net import LOWEST_PORT, ephemeral_low, free_port


def test_a_free_port_is_below_the_ports_outgoing_connections_get_so_no_client_can_take_it_first() -> None:
    """A port from the ephemeral range, free when chosen, was taken by a client's connection in another test
    before the drill's instance bound it (``address already in use``)."""
    below = ephemeral_low()
    assert below > LOWEST_PORT + 1000, "this machine says which ports outgoing connections get"
    ports = {free_port() for _ in range(20)}
    assert all(LOWEST_PORT <= port < below for port in ports), sorted(ports)
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", port))
