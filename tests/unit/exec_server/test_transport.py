"""transport.parse_listen: the accepted `--listen` forms and the loopback rule."""

from __future__ import annotations

import pytest

from codex.errors import UsageError
from codex.exec_server.transport import Listen, parse_listen


@pytest.mark.parametrize("value, expected, loopback", [
    ("stdio", Listen("stdio"), False),
    ("stdio://", Listen("stdio"), False),
    ("ws://127.0.0.1:0", Listen("ws", "127.0.0.1", 0), True),
    ("ws://127.0.0.2:8080/", Listen("ws", "127.0.0.2", 8080), True),
    ("ws://localhost:1", Listen("ws", "localhost", 1), True),
    ("ws://[::1]:9000", Listen("ws", "::1", 9000), True),
    ("ws://0.0.0.0:0", Listen("ws", "0.0.0.0", 0), False),
    ("ws://192.168.1.5:80", Listen("ws", "192.168.1.5", 80), False),
])
def test_accepted_forms(value, expected, loopback):
    got = parse_listen(value)
    assert got == expected
    if got.kind == "ws":
        assert got.is_loopback is loopback


@pytest.mark.parametrize("value", ["", "ws://", "ws://127.0.0.1", "ws://127.0.0.1:x",
                                   "ws://:80", "wss://127.0.0.1:0", "http://127.0.0.1:0",
                                   "tcp://1.2.3.4:5", "ws://127.0.0.1:70000", "stdin"])
def test_rejected_forms_name_the_accepted_ones(value):
    with pytest.raises(UsageError) as e:
        parse_listen(value)
    assert "ws://IP:PORT" in e.value.message and "stdio" in e.value.message
