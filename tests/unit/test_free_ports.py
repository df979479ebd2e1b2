"""Listening ports for tests and benchmarks are picked outside the kernel's range for outgoing
connections, where a client's connect could take one before its server binds it."""

import socket

from infra.ports import _ephemeral_range, free_port


def test_a_free_port_is_outside_the_range_outgoing_connections_take_and_can_be_bound():
    low, high = _ephemeral_range()
    ports = {free_port() for _ in range(20)}
    assert all(not low <= port <= high for port in ports), (ports, low, high)
    assert len(ports) > 1  # picked at random: two runs at once do not race for one port
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", port))


def test_a_port_something_listens_on_is_not_handed_out():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", free_port()))
        taken.listen()
        busy = taken.getsockname()[1]
        assert busy not in {free_port() for _ in range(200)}


def test_ports_picked_one_after_the_other_before_any_is_bound_are_all_different():
    ports = [free_port() for _ in range(500)]
    assert len(set(ports)) == len(ports)
