"""Running the web app: checks before binding, then uvicorn in the foreground."""

from __future__ import annotations

import ipaddress
import socket

from mmvc.errors import BadInputError

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def is_local(host: str) -> bool:
    if host in LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_host(host: str, allow_remote: bool) -> None:
    """A host other than the loopback shows the repository to the network: only on request."""
    if not is_local(host) and not allow_remote:
        raise BadInputError(f"--host {host} would let other machines read this repository",
                            "add --allow-remote to serve beyond this machine, or leave --host at 127.0.0.1")


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before the server starts so a taken port is one clear error."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise BadInputError(f"cannot listen on {host}:{port}: {e.strerror}", "pick another port with --port (0: any free one)") from None
    sock.listen(128)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{'[' + host + ']' if ':' in host else host}:{port}/"


def make_server(repo, sock: socket.socket, rev: str = "HEAD", log_level: str = "warning"):
    """A uvicorn server for ``repo`` on an already bound socket (``server.run(sockets=[sock])``)."""
    import uvicorn

    from mmvc.ui.app import create_app

    config = uvicorn.Config(create_app(repo, rev), log_level=log_level, access_log=False, lifespan="off")
    return uvicorn.Server(config)
