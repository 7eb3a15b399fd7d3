"""The `ipqa` command. Each package contributes its commands through ``register(app)`` in its own
``cli`` module; this module only assembles them and turns ipqa's errors into clean messages.

Command modules import their heavy dependencies (torch, faiss, transformers…) inside the command
functions, so ``ipqa --help`` stays fast.
"""

from __future__ import annotations

import os
import sys

import typer

from ipqa.errors import IpqaError


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="ipqa",
        help="Question answering over IP law with verified citations.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    from api.cli import register as register_api
    from evals.cli import register as register_evals
    from indexes.cli import register as register_indexes
    from ingest.cli import register as register_ingest
    from rag.cli import register as register_rag
    from rag.history_cli import register as register_history
    from rag.train_cli import register as register_train
    from sft.cli import register as register_sft

    @app.callback()
    def root(
        verbose: bool = typer.Option(False, "--verbose", "-v",
                                     help="Show libraries' progress bars, warnings and log messages."),
    ) -> None:
        """Question answering over IP law with verified citations."""
        if not verbose:
            from ipqa.runtime import quiet_libraries

            quiet_libraries()

    @app.command("version")
    def version() -> None:
        """Print the ipqa version."""
        from ipqa import __version__

        typer.echo(__version__)

    for register in (register_ingest, register_indexes, register_rag, register_history, register_train, register_evals,
                     register_sft, register_api):
        register(app)
    return app


def main() -> None:
    # unstructured phones home unless told not to; nothing here may reach the network.
    os.environ.setdefault("DO_NOT_TRACK", "true")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        build_app()()
    except IpqaError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
