"""The FastAPI application: ``create_app(settings)``.

Settings are read once by the caller (``ipqa serve``, a test); the lifespan loads the embedder, the
current index version and the answering stages once, before the first request. Tests may pass their
own ``services_factory`` (retriever + answerer per index version) or ``embedder``, or override any
dependency of :mod:`api.deps`.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, AsyncIterator

from fastapi import FastAPI

from api.auth import ApiKeys
from api.body_limit import BodyLimitMiddleware
from api.errors import install_problem_handlers
from api.openapi import install_openapi
from api.routers import ask, chunks, citations, conversations, documents, health, index, jobs, openai_chat, search
from api.web import routes as web
from ipqa.errors import IndexUnavailableError

if TYPE_CHECKING:
    from api.state import ServicesFactory
    from indexes.protocols import Embedder
    from ipqa.settings import Settings

logger = logging.getLogger("ipqa.api")

JSON_BODY_LIMIT = 1024 * 1024  # questions and filters are small; anything bigger is not a question
MULTIPART_OVERHEAD = 1024 * 1024


def create_app(settings: "Settings", *, services_factory: "ServicesFactory | None" = None,
               embedder: "Embedder | None" = None, watch_interval_s: float = 2.0,
               threadpool_size: int | None = None) -> FastAPI:
    """The ipqa REST service.

    ``watch_interval_s``: how often the service checks whether ``current`` moved to a version built
    by someone else (another worker, ``ipqa index`` run beside the service); 0 disables it.
    ``threadpool_size``: threads for the blocking endpoints (default: ``settings.api_threads``).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        import anyio.to_thread

        from api.conversations import ConversationStore, Retention
        from api.jobs import JobRunner
        from api.state import AppState, IndexWatcher, Limits, configured_services
        from indexes.build import BuildOptions
        from indexes.manager import IndexManager
        from ipqa.runtime import configure_faiss, configure_torch

        # Requests are CPU-bound and share the GIL: more threads than a few per core only add
        # contention; requests beyond them wait cheaply on the event loop.
        anyio.to_thread.current_default_thread_limiter().total_tokens = threadpool_size or settings.api_threads
        configure_torch(settings.torch_threads)  # before any model runs; process-wide
        configure_faiss(settings.torch_threads)
        model = embedder if embedder is not None else _configured_embedder(settings)
        # Settle how queries are encoded (ONNX export, model warm-up) before serving, not in the
        # first English search.
        model.encode_query(["patent"])
        manager = IndexManager(settings.index_root, embedder=model, options=BuildOptions.from_settings(settings))
        runner = JobRunner(settings.jobs_dir)
        runner.recover()
        app.state.conversations = ConversationStore(settings.conversations_path, Retention(
            days=settings.conversation_retention_days, max_conversations=settings.max_conversations,
            max_turns=settings.max_conversation_turns))
        state = AppState(manager=manager, services_factory=services_factory or configured_services(settings),
                         limits=Limits.from_settings(settings), jobs=runner, uploads_dir=settings.uploads_dir,
                         rebuild_sources=tuple(settings.rebuild_sources), embedder_name=getattr(model, "name", None),
                         generator_name=settings.generator)
        try:
            state.refresh()
        except IndexUnavailableError as exc:
            # serve anyway: /readyz says 503 and an index job can still build the first version
            logger.warning("starting without an index: %s", exc)
        app.state.ipqa = state
        from api.index_jobs import sweep_pending_uploads

        for upload in sweep_pending_uploads(state):  # left by an add job that was interrupted
            logger.warning("removed upload %s: its add job never finished", upload)
        watcher = IndexWatcher(state, watch_interval_s)
        watcher.start()
        try:
            yield
        finally:
            watcher.stop()
            manager.close()

    app = FastAPI(title="ipqa", version=_version(), lifespan=lifespan,
                  description="Question answering over IP law (CN and US statutes, judgments, patents) with "
                              "verified citations. Errors are RFC 9457 problem details.")
    app.state.api_keys = ApiKeys.from_lists(settings.api_keys, settings.write_api_keys,
                                            read_requires_key=settings.read_requires_key)
    upload_limit = settings.max_upload_files * settings.max_upload_bytes + MULTIPART_OVERHEAD
    app.add_middleware(BodyLimitMiddleware, default_limit=JSON_BODY_LIMIT,
                       limits={("POST", "/v1/documents"): upload_limit},
                       part_limits={("POST", "/v1/documents"): settings.max_upload_bytes})
    install_problem_handlers(app)
    install_openapi(app, max_upload_files=settings.max_upload_files)
    for module in (health, search, ask, chunks, citations, documents, index, jobs, conversations):
        app.include_router(module.router)
    app.state.served_model_name = settings.served_model_name
    openai_chat.install(app)  # its errors are in OpenAI's shape
    web.install(app)  # the page at / and its local assets
    return app


def create_app_from_environment() -> FastAPI:
    """Factory for ``uvicorn --factory api.app:create_app_from_environment`` (several workers)."""
    from ipqa.settings import Settings

    return create_app(Settings())


def _configured_embedder(settings: "Settings") -> "Embedder":
    from indexes.embedder import configured_embedder

    return configured_embedder(settings)


def _version() -> str:
    from ipqa import __version__

    return __version__
