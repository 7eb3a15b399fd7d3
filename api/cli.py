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
    """Several worker processes under uvicorn's supervisor, each building its app from the environment.

    On Linux each worker binds its own ``SO_REUSEPORT`` socket so that the kernel spreads connections
    across workers (see api/listeners.py); uvicorn's ``Multiprocess`` restarts a worker that dies.
    Elsewhere: one shared socket, as ``uvicorn.run(..., workers=n)`` does.
    """
    import logging

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from api.listeners import ReusePortListener, reserve_port, reuse_port_supported, tcp_socket

    config = uvicorn.Config("api.app:create_app_from_environment", factory=True, host=host, port=port,
                            workers=workers, log_level=log_level)
    if reuse_port_supported():
        try:
            reservation = reserve_port(host, port)
        except OSError as exc:
            typer.echo(f"ipqa serve: {exc.strerror}", err=True)
            raise typer.Exit(1) from exc
        bound_port = reservation.getsockname()[1]
        logging.getLogger("uvicorn.error").info(
            "ipqa serving on http://%s:%d with %d workers, one SO_REUSEPORT socket each", host, bound_port, workers)
        # Multiprocess hands ``sockets`` to every worker it starts (and restarts) by pickling them;
        # a ReusePortListener unpickles as a socket bound in that worker.
        listeners: list = [ReusePortListener(host, bound_port)]
        try:
            Multiprocess(config, sockets=listeners).run()
        finally:
            reservation.close()
        return
    sock = tcp_socket(host, reuse_port=False)
    try:
        try:
            sock.bind((host, port))
        except OSError as exc:
            typer.echo(f"ipqa serve: cannot bind {host}:{port}: {exc.strerror}", err=True)
            raise typer.Exit(1) from exc
        sock.set_inheritable(True)
        Multiprocess(config, sockets=[sock]).run()
    finally:
        sock.close()
