"""AnswerThreads and CHAT_THREADS: how many answers one worker computes at once."""

from __future__ import annotations

import threading
import time

import anyio
import pytest

from rag_chatbot.config import Settings, load_settings
from rag_chatbot.errors import ConfigError
from rag_chatbot.serving.threads import AnswerThreads, chat_threads


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # what uvicorn runs


@pytest.mark.anyio
async def test_no_more_than_total_calls_run_at_once_and_every_call_gets_its_result() -> None:
    threads = AnswerThreads(2)
    lock = threading.Lock()
    running = 0
    most = 0
    results: list[int] = []

    def work(n: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)  # long enough for all six to be waiting at once
        with lock:
            running -= 1
        return n * n

    async def ask(n: int) -> None:
        results.append(await threads.run(lambda: work(n)))

    async with anyio.create_task_group() as group:
        for n in range(6):
            group.start_soon(ask, n)

    assert most == 2
    assert sorted(results) == [n * n for n in range(6)]


@pytest.mark.anyio
async def test_an_error_in_the_thread_is_raised_to_the_caller() -> None:
    def fail() -> None:
        raise LookupError("no such session")

    with pytest.raises(LookupError, match="no such session"):
        await AnswerThreads(1).run(fail)


def test_a_total_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="total must be >= 1"):
        AnswerThreads(0)


def _settings(**values: object) -> Settings:
    return Settings(**values)  # type: ignore[arg-type]


def test_chat_threads_setting_wins_over_the_generators_default() -> None:
    assert chat_threads(_settings(chat_threads=5), llm=False, cores=2) == 5
    assert chat_threads(_settings(chat_threads=5), llm=True, cores=2) == 5


def test_extractive_answers_get_three_per_core_and_llm_answers_anyios_default() -> None:
    assert chat_threads(_settings(), llm=False, cores=2) == 6
    assert chat_threads(_settings(), llm=False, cores=8) == 24
    assert chat_threads(_settings(), llm=True, cores=2) == 40


def test_a_negative_chat_threads_fails_at_start_up_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHAT_THREADS", "-1")
    with pytest.raises(ConfigError, match="CHAT_THREADS"):
        load_settings()
