"""Embedders: text in, unit-length vectors out (see ``base.Embedder`` for the contract).

- ``OnnxMiniLMEmbedder``: all-MiniLM-L6-v2, int8 ONNX on onnxruntime; the default.
- ``SentenceTransformerEmbedder``: the same model on PyTorch (extra 'torch'); the reference.
- ``HashingEmbedder``: a deterministic test double for unit tests, never a default.

Importing this package loads neither onnxruntime nor torch: each class imports its runtime when
it is instantiated.
"""

from rag_chatbot.providers.embedders.base import Embedder, Vectors
from rag_chatbot.providers.embedders.hashing import HashingEmbedder
from rag_chatbot.providers.embedders.onnx import OnnxMiniLMEmbedder
from rag_chatbot.providers.embedders.sentence_transformers import SentenceTransformerEmbedder

__all__ = [
    "Embedder",
    "HashingEmbedder",
    "OnnxMiniLMEmbedder",
    "SentenceTransformerEmbedder",
    "Vectors",
]
