"""``serve``: the HTTP API, the reader and the widget, in one process or several workers.

The app itself is built in each worker (``APP``, a factory), after the settings of the run
are in the environment: one model-call thread each, the metrics' per-process directory, and
the socket of the vector index this process shares with them.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any

import typer

from rag_chatbot.backends import shared_vector_store
from rag_chatbot.cli.failures import reported
from rag_chatbot.config import load_settings

APP = "rag_chatbot.api.app:app_from_environment"  # the ASGI app factory `serve` runs


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
) -> None:
    """Serve the HTTP API, the web reader (/) and the chat widget on one port."""
    import os

    import uvicorn

    from rag_chatbot.observability.logging import configure_logging
    from rag_chatbot.observability.metrics import prepare_multiprocess_dir
    from rag_chatbot.serving.workers import ReusePortWorkers, reuse_port_supported

    # Concurrent requests already keep the cores busy; a model call that also spreads over them
    # only contends (docs/benchmarks.md, the HTTP service under load). Ingest keeps them all.
    os.environ.setdefault("EMBEDDING_THREADS", "1")
    with reported(2):
        settings = load_settings()
        configure_logging(settings.log_dir, settings.log_level, settings.log_format)
    if workers > 1:
        # Set before any worker imports the metrics, so all of them write per-process files.
        metrics_dir = Path(
            os.environ.setdefault(
                "PROMETHEUS_MULTIPROC_DIR", str(settings.data_dir.resolve() / "prometheus")
            )
        )
        prepare_multiprocess_dir(metrics_dir)
    with ExitStack() as shared:
        if (workers > 1 or settings.broker_url) and not settings.qdrant_url:
            # The embedded index opens in one process only: this one, serving it to the workers
            # (and, with BROKER_URL, to the `rag-chatbot worker` processes on this machine).
            with reported(2):
                shared.enter_context(shared_vector_store(settings))
        options: dict[str, Any] = {"factory": True, "log_config": None, "access_log": False}
        if workers > 1 and reuse_port_supported():
            # A listening socket per worker: the kernel spreads connections evenly.
            config = uvicorn.Config(APP, host=host, port=port, workers=workers, **options)
            ReusePortWorkers(config).run()
        else:
            uvicorn.run(APP, host=host, port=port, workers=workers, **options)
