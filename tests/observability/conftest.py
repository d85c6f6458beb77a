"""Fixtures for the observability tests: the anyio backend and an isolated root logger.

The helpers that start a real ``rag-chatbot serve`` (tests/integration/servers.py) are put on
the path for the tests that read a real server's log files.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# Loggers an in-process uvicorn (a test's server in a thread) configures with its own
# dictConfig: their own handlers, propagation off, a level.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


@pytest.fixture
def isolated_logging() -> Iterator[None]:
    """A test that configures logging starts from the loggers a fresh process has, and the
    root logger's handlers and level are restored after it."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    saved = {}
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        saved[name] = (list(logger.handlers), logger.level, logger.propagate, logger.disabled)
        logger.handlers, logger.propagate, logger.disabled = [], True, False
        logger.setLevel(logging.NOTSET)
    yield
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)
    for name, (kept, was, propagate, disabled) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers, logger.propagate, logger.disabled = kept, propagate, disabled
        logger.setLevel(was)
