"""``GeminiChatModel``: Google's Gemini API through the official ``google-genai`` SDK.

``LLM_API_KEY`` is the Gemini API key, ``LLM_MODEL`` the model (e.g. ``gemini-2.5-flash``);
``LLM_BASE_URL``, when set, replaces Google's endpoint (a proxy or gateway speaking the same
REST API). Gemini has no system role in the conversation: the system message becomes the
request's ``system_instruction``, and assistant turns are sent with Gemini's role ``model``.
The SDK's own retries stay off; ``base.RetryPolicy`` decides, as for every provider.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import httpx
import httpx2

from rag_chatbot.errors import ProviderError, ProviderTimeout, ProviderUnavailable
from rag_chatbot.providers.generators.base import Message, RetryingModel, RetryPolicy

if TYPE_CHECKING:
    from google.genai import types

CHECK_TIMEOUT_SECONDS = 1.0  # inside the 2 s budget of a health probe
_TIMEOUTS = (httpx.TimeoutException, httpx2.TimeoutException)
_TRANSPORT = (httpx.TransportError, httpx2.TransportError)


class GeminiChatModel(RetryingModel):
    """Gemini's ``generateContent`` / ``streamGenerateContent`` (see ``base.ChatModel``).

    ``timeout`` bounds each HTTP request to Gemini, in seconds.
    """

    name = "gemini"

    def __init__(
        self,
        model: str,
        *,
        api_key: str,
        base_url: str | None = None,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        temperature: float = 0.1,
    ) -> None:
        from google import genai
        from google.genai import types

        self.model = model
        self._retry = retry or RetryPolicy()
        self._temperature = temperature
        self._client = genai.Client(
            api_key=api_key,
            http_options=types.HttpOptions(base_url=base_url, timeout=int(timeout * 1000)),
        )
        self._check_options = types.HttpOptions(
            base_url=base_url, timeout=int(CHECK_TIMEOUT_SECONDS * 1000)
        )

    def check(self) -> None:
        from google.genai import types

        with _translated():
            self._client.models.get(
                model=self.model, config=types.GetModelConfig(http_options=self._check_options)
            )

    def _stream_once(self, messages: Sequence[Message], max_tokens: int) -> Iterator[str]:
        contents, config = self._request(messages, max_tokens)
        finished = False
        with _translated():
            for chunk in self._client.models.generate_content_stream(
                model=self.model, contents=contents, config=config
            ):
                finished = finished or bool(chunk.candidates and chunk.candidates[0].finish_reason)
                text = _text(chunk)
                if text:
                    yield text
        if not finished:
            # The connection closed cleanly, but the answer was cut short.
            raise ProviderUnavailable("gemini stream ended before the answer did")

    def _complete_once(self, messages: Sequence[Message], max_tokens: int) -> str:
        contents, config = self._request(messages, max_tokens)
        with _translated():
            reply = self._client.models.generate_content(
                model=self.model, contents=contents, config=config
            )
        return _text(reply)

    def _request(
        self, messages: Sequence[Message], max_tokens: int
    ) -> tuple[list[types.Content], types.GenerateContentConfig]:
        from google.genai import types

        system = "\n\n".join(m.content for m in messages if m.role == "system")
        contents = [
            types.Content(
                role="model" if m.role == "assistant" else "user",
                parts=[types.Part(text=m.content)],
            )
            for m in messages
            if m.role != "system"
        ]
        config = types.GenerateContentConfig(
            system_instruction=system or None,
            max_output_tokens=max_tokens,
            temperature=self._temperature,
        )
        return contents, config


def _text(response: Any) -> str:
    """The text parts of a response's first candidate (``response.text`` warns on others)."""
    candidates = response.candidates or []
    if not candidates or candidates[0].content is None:
        return ""
    return "".join(part.text or "" for part in candidates[0].content.parts or [])


@contextmanager
def _translated() -> Iterator[None]:
    """The SDK's and the HTTP layer's exceptions as ours (the message names the provider)."""
    from google.genai import errors

    try:
        yield
    except _TIMEOUTS as exc:
        raise ProviderTimeout("gemini timed out") from exc
    except errors.APIError as exc:
        status = exc.code or 0
        if status == 429 or status >= 500:
            raise ProviderUnavailable(f"gemini returned HTTP {status}") from exc
        raise ProviderError(f"gemini returned HTTP {status}: {exc.message}") from exc
    except _TRANSPORT as exc:
        raise ProviderUnavailable(f"gemini unreachable: {exc}") from exc
