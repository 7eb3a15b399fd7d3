"""`ipqa serve`: the REST API on uvicorn."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this package's commands to the `ipqa` app."""

    @app.command("serve")
    def serve(
        host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
        port: int = typer.Option(8000, min=1, max=65535, help="TCP port."),
        workers: int = typer.Option(1, min=1, help="Worker processes (each loads the index and models)."),
        log_level: str = typer.Option("info", help="uvicorn log level."),
    ) -> None:
        """Serve the question API (OpenAPI docs at /docs)."""
        import uvicorn

        if workers == 1:
            from api.app import create_app
            from ipqa.settings import Settings

            uvicorn.run(create_app(Settings()), host=host, port=port, log_level=log_level)
            return
        _serve_workers(host, port, workers, log_level)


def _serve_workers(host: str, port: int, workers: int, log_level: str) -> None:
    """Several processes on one listening socket, each building its app from the environment.

    What ``uvicorn.run(..., workers=n)`` does, plus TCP_NODELAY on the listening socket (Linux
    passes it on to accepted connections): uvicorn's shared socket is created without an explicit
    protocol, so asyncio does not set TCP_NODELAY itself, and every small response would wait for
    a delayed ACK (~40 ms).
    """
    import socket

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config("api.app:create_app_from_environment", factory=True, host=host, port=port,
                            workers=workers, log_level=log_level)
    sock = config.bind_socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        Multiprocess(config, sockets=[sock]).run()
    finally:
        sock.close()
