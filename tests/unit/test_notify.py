"""The sd_notify sender on a real datagram socket: a listener that stops reading must never block
the event loop that sends (systemd reads, but a stuck or test listener may not)."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

from gateway.notify import Notifier


def test_a_full_listener_queue_drops_messages_instead_of_blocking(tmp_path: Path) -> None:
    path = tmp_path / "notify.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(path))
    notifier = Notifier(str(path))
    done = threading.Event()

    def flood() -> None:
        for _ in range(5000):  # far more than the listener's queue holds
            notifier.send("STATUS=50/50 devices online; mqtt connected, backlog 0")
        done.set()

    sender = threading.Thread(target=flood, daemon=True)
    sender.start()
    try:
        assert done.wait(10), "send() blocked on a listener that does not read"
        first = listener.recv(4096)
        assert first.startswith(b"STATUS=50/50"), "what fitted in the queue was delivered"
    finally:
        notifier.close()
        listener.close()
