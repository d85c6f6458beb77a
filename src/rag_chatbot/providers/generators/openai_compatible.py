"""``OpenAIChatModel``: any server speaking OpenAI's chat completions API, through the official SDK.

OpenAI itself, vLLM, Ollama, llama.cpp's server, LM Studio: ``LLM_BASE_URL`` points at the
server's ``/v1`` root (unset: api.openai.com), ``LLM_API_KEY`` is its key (local servers usually
want none), ``LLM_MODEL`` the model to ask for. The SDK's own retries are switched off so that
every provider retries by the same rule (``base.RetryPolicy``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import httpx2

from rag_chatbot.errors import ProviderError, ProviderTimeout, ProviderUnavailable
from rag_chatbot.providers.generators.base import Message, RetryingModel, RetryPolicy

if TYPE_CHECKING:
    import openai

CHECK_TIMEOUT_SECONDS = 1.0  # inside the 2 s budget of a health probe
# Local servers ignore the key, but the SDK refuses to start without one.
_NO_KEY = "not-needed"


class OpenAIChatModel(RetryingModel):
    """Chat completions from an OpenAI-compatible server (see ``base.ChatModel``).

    ``timeout`` bounds connecting and each wait for the server (the first token, then every
    next piece of a stream), not the length of a whole answer.
    """

    name = "openai"

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        temperature: float = 0.1,
    ) -> None:
        import openai

        self.model = model
        self._retry = retry or RetryPolicy()
        self._temperature = temperature
        # api.openai.com renamed max_tokens; other servers only know the old name.
        self._max_tokens_field = "max_tokens" if base_url else "max_completion_tokens"
        self._client = openai.OpenAI(
            base_url=base_url,
            api_key=api_key or _NO_KEY,
            timeout=httpx2.Timeout(timeout, connect=min(timeout, 10.0)),
            max_retries=0,
        )

    def check(self) -> None:
        with _translated():
            self._client.with_options(timeout=CHECK_TIMEOUT_SECONDS).models.list()

    def _request(self, messages: Sequence[Message], max_tokens: int) -> dict[str, Any]:
        return {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "temperature": self._temperature,
            self._max_tokens_field: max_tokens,
        }

    def _stream_once(self, messages: Sequence[Message], max_tokens: int) -> Iterator[str]:
        with _translated():
            chunks = self._client.chat.completions.create(
                **self._request(messages, max_tokens), stream=True
            )
            finished = False
            try:
                for chunk in chunks:
                    if not chunk.choices:
                        continue
                    choice = chunk.choices[0]
                    finished = finished or choice.finish_reason is not None
                    if choice.delta.content:
                        yield choice.delta.content
            finally:
                chunks.close()
        if not finished:
            # The connection closed cleanly, but the answer was cut short.
            raise ProviderUnavailable("openai stream ended before the answer did")

    def _complete_once(self, messages: Sequence[Message], max_tokens: int) -> str:
        with _translated():
            reply = self._client.chat.completions.create(**self._request(messages, max_tokens))
        if not reply.choices:
            raise ProviderError("openai: the reply has no choices")
        return reply.choices[0].message.content or ""


@contextmanager
def _translated() -> Iterator[None]:
    """The SDK's and the HTTP layer's exceptions as ours (the message names the provider)."""
    import openai

    try:
        yield
    except (openai.APITimeoutError, httpx2.TimeoutException) as exc:
        raise ProviderTimeout("openai timed out") from exc
    except openai.APIStatusError as exc:
        raise _status_error(exc) from exc
    except (openai.APIConnectionError, httpx2.TransportError) as exc:
        # Includes a connection cut in the middle of a stream (the server died).
        raise ProviderUnavailable(f"openai unreachable: {exc}") from exc
    except openai.OpenAIError as exc:
        raise ProviderError(f"openai failed: {exc}") from exc


def _status_error(exc: openai.APIStatusError) -> ProviderError:
    status = exc.status_code
    if status == 429 or status >= 500:
        return ProviderUnavailable(f"openai returned HTTP {status}")
    return ProviderError(f"openai returned HTTP {status}: {exc.message}")
