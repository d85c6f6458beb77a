"""OpenAI-compatible ``POST /v1/embeddings``: this server's embedding model, for other machines.

One machine (a GPU, spare cores) runs the model; the others set ``EMBEDDING_PROVIDER=openai``
and ``EMBEDDING_BASE_URL`` to its ``/v1`` and embed through it — or any OpenAI client does.

- ``model`` must be the name of the model this server embeds with (``Embedder.name``, for
  example ``all-MiniLM-L6-v2-int8``): the name each client's vector collection is called by,
  so vectors of two models never mix. Any other name is 404, as OpenAI answers an unknown
  model, and the message names the one served.
- ``input`` is one text or a list of at most ``MAX_INPUTS``, each at most ``MAX_INPUT_CHARS``
  characters (the model reads the first ``max_tokens`` word pieces; the rest would only cost
  tokenizing). Over either limit is 422 ``INVALID_INPUT`` saying which (the number is in the
  spec's schema, the length in its description); a body over ``MAX_UPLOAD_MB`` is 413.
- Vectors come from ``Embedder.embed`` (passages' path), as unit-length floats or, with
  ``encoding_format: "base64"``, little-endian float32 bytes in base64 (what OpenAI's SDK asks
  for by default). ``usage`` counts the word pieces the model read.
- Auth as ``/v1/chat/completions``: ``Authorization: Bearer`` with a user's access token or
  ADMIN_TOKEN. The default rate limit applies. The model runs in AnyIO's worker threads like
  ``/api/search``'s (a plain ``def`` route): ``CHAT_THREADS`` caps answering only.
"""

from __future__ import annotations

import base64
from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from rag_chatbot.api.openapi import BEARER, errors
from rag_chatbot.api.routes.openai_compat import _WithOpenAIErrors
from rag_chatbot.api.security import PrincipalDep
from rag_chatbot.api.storable import StorableBody
from rag_chatbot.dependencies import EmbedderDep
from rag_chatbot.errors import InvalidInput, NotFound, Unauthorized

MAX_INPUTS = 512
MAX_INPUT_CHARS = 16_384

router = APIRouter(prefix="/v1", tags=["openai-compatible"], route_class=_WithOpenAIErrors)


def _integral(value: object) -> object:
    # JSON Schema's integer includes 384.0; strict validation then refuses true, "384" and 4.5.
    return int(value) if isinstance(value, float) and value.is_integer() else value


# The bound before the validator, so that the schema states it as ``minimum``.
Dimensions = Annotated[int, Field(ge=1), BeforeValidator(_integral)]


class EmbeddingRequest(StorableBody):
    """OpenAI's request body; ``user`` and other fields are ignored."""

    model_config = ConfigDict(extra="ignore", strict=True)
    # Each text's length is checked below and said in the description, not in the schema:
    # bounding both there would call 512 texts at the limit (8 MB) valid, though such a body
    # is over a smaller MAX_UPLOAD_MB (413).
    input: str | Annotated[list[str], Field(min_length=1, max_length=MAX_INPUTS)] = Field(
        description=f"A text, or a list of 1 to {MAX_INPUTS} texts, each of at most "
        f"{MAX_INPUT_CHARS} characters."
    )
    model: str = Field(description="The name of the model this server embeds with.")
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: Dimensions | None = Field(
        None, description="Accepted only when it is the model's own dimension."
    )

    @field_validator("input", mode="before")
    @classmethod
    def _within_limits(cls, value: object) -> object:
        """Say which limit a request is over, in words, before the schema's generic message."""
        texts = value if isinstance(value, list) else [value]
        if isinstance(value, list) and len(value) > MAX_INPUTS:
            raise PydanticCustomError(
                "too_many_inputs",
                "{count} texts; at most {limit} a request",
                {"count": len(value), "limit": MAX_INPUTS},
            )
        if isinstance(value, list) and any(
            isinstance(t, list) or (isinstance(t, int) and not isinstance(t, bool)) for t in value
        ):
            raise PydanticCustomError("token_arrays", "token arrays are not accepted; send text")
        for position, text in enumerate(texts):
            if isinstance(text, str) and len(text) > MAX_INPUT_CHARS:
                raise PydanticCustomError(
                    "input_too_long",
                    "text {position} has {length} characters; at most {limit}",
                    {"position": position, "length": len(text), "limit": MAX_INPUT_CHARS},
                )
        return value


class EmbeddingItem(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str = Field(description="Floats, or base64 of float32 bytes.")


class EmbeddingUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingList(BaseModel):
    object: Literal["list"] = "list"
    data: list[EmbeddingItem]
    model: str
    usage: EmbeddingUsage


@router.post(
    "/embeddings",
    response_model=EmbeddingList,
    responses=errors(404, 503),
    openapi_extra={"security": BEARER},
)
def embeddings(
    body: EmbeddingRequest, embedder: EmbedderDep, caller: PrincipalDep
) -> EmbeddingList:
    """Vectors of the texts, in their order, from the model this server embeds with."""
    if caller.kind == "anonymous":
        raise Unauthorized("send 'Authorization: Bearer <access token or ADMIN_TOKEN>'")
    if body.model != embedder.name:
        raise NotFound(f"model {body.model!r} not found; this server embeds with {embedder.name!r}")
    if body.dimensions is not None and body.dimensions != embedder.dimension:
        raise InvalidInput(
            f"dimensions: {embedder.name} makes {embedder.dimension}-dimensional vectors only"
        )
    texts = [body.input] if isinstance(body.input, str) else body.input
    vectors = embedder.embed(texts)
    tokens = sum(min(embedder.count_tokens(t), embedder.max_tokens) for t in texts)
    if body.encoding_format == "base64":
        encoded: list[list[float] | str] = [
            base64.b64encode(v.astype("<f4").tobytes()).decode("ascii") for v in vectors
        ]
    else:
        encoded = list(vectors.tolist())
    return EmbeddingList(
        data=[EmbeddingItem(index=i, embedding=e) for i, e in enumerate(encoded)],
        model=embedder.name,
        usage=EmbeddingUsage(prompt_tokens=tokens, total_tokens=tokens),
    )
