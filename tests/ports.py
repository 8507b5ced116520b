"""Free ports on 127.0.0.1 for the servers the tests start themselves (live servers, `logcenter serve`,
fake forges, SMTP), which bind the port a moment after they are given it.

Under pytest-xdist several workers ask at once. A port the kernel hands one worker is free again as soon as
its probing socket closes, so another worker could be given it too before the first server binds it. Each
worker therefore takes ports of its own share only ((port // 2) % workers == its number: the kernel may hand
out ports of one parity only), and never gives out the same port twice: two servers started at the same time
never get the same port from here. Run alone, every port is in the one worker's share.
"""

from __future__ import annotations

import os
import socket


def _worker() -> tuple[int, int]:
    """(this worker's number, number of workers); (0, 1) when pytest-xdist is not in use."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "")  # gw0, gw1, ...
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    if not name.startswith("gw") or count < 2:
        return 0, 1
    return int(name[2:]) % count, count


_given: set[int] = set()


def free_port() -> int:
    """A port nothing listens on now, in this worker's share and not given out before by this worker."""
    worker, workers = _worker()
    held: list[socket.socket] = []  # kept bound while searching, so the kernel offers another port each time
    try:
        for _ in range(2000):
            sock = socket.socket()
            held.append(sock)
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
            if port not in _given and (port // 2) % workers == worker:
                _given.add(port)
                return port
    finally:
        for sock in held:
            sock.close()
    raise RuntimeError("no free port in this worker's share of the local port range")
