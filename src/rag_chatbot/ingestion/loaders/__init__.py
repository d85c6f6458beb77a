"""Document loaders: the one map from a file's extension to the loader that reads it.

    load_file(path) / load_bytes(data, name)  ->  LoadedDocument(title, sections, media_type)

Adding a format means writing a ``Loader`` (see ``base.py``) and adding its extensions to
``_LOADERS``; nothing else chooses by extension.
"""

from __future__ import annotations

from pathlib import Path, PurePath

from rag_chatbot.domain import LoadedDocument
from rag_chatbot.errors import IngestionError, UnsupportedFormat
from rag_chatbot.ingestion.loaders.adoc import AsciidocLoader
from rag_chatbot.ingestion.loaders.base import Loader
from rag_chatbot.ingestion.loaders.csv import CsvLoader
from rag_chatbot.ingestion.loaders.docx import DocxLoader
from rag_chatbot.ingestion.loaders.epub import EpubLoader
from rag_chatbot.ingestion.loaders.html import HtmlLoader
from rag_chatbot.ingestion.loaders.ipynb import NotebookLoader
from rag_chatbot.ingestion.loaders.markdown import MarkdownLoader
from rag_chatbot.ingestion.loaders.mdx import MdxLoader
from rag_chatbot.ingestion.loaders.odt import OdtLoader
from rag_chatbot.ingestion.loaders.org import OrgLoader
from rag_chatbot.ingestion.loaders.pdf import PdfLoader
from rag_chatbot.ingestion.loaders.pptx import PptxLoader
from rag_chatbot.ingestion.loaders.rst import RstLoader
from rag_chatbot.ingestion.loaders.rtf import RtfLoader
from rag_chatbot.ingestion.loaders.slugs import HeadingIdStyle
from rag_chatbot.ingestion.loaders.sniff import check_content
from rag_chatbot.ingestion.loaders.text import TextLoader

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "AsciidocLoader",
    "CsvLoader",
    "DocxLoader",
    "EpubLoader",
    "HtmlLoader",
    "Loader",
    "MarkdownLoader",
    "MdxLoader",
    "NotebookLoader",
    "OdtLoader",
    "OrgLoader",
    "PdfLoader",
    "PptxLoader",
    "RstLoader",
    "RtfLoader",
    "TextLoader",
    "load_bytes",
    "load_file",
    "loader_for",
]

# Loaders hold no per-document state, so one instance of each serves every call.
_LOADERS: dict[str, Loader] = {
    ".md": MarkdownLoader(),
    ".markdown": MarkdownLoader(),
    ".html": HtmlLoader(),
    ".htm": HtmlLoader(),
    ".pdf": PdfLoader(),
    ".docx": DocxLoader(),
    ".epub": EpubLoader(),
    ".txt": TextLoader(),
    ".text": TextLoader(),
    ".odt": OdtLoader(),
    ".pptx": PptxLoader(),
    ".rtf": RtfLoader(),
    ".csv": CsvLoader(),
    ".org": OrgLoader(),
    ".adoc": AsciidocLoader(),
    ".asciidoc": AsciidocLoader(),
    ".mdx": MdxLoader(),
    ".rst": RstLoader(),
    ".ipynb": NotebookLoader(),
}

SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(_LOADERS)


def loader_for(name: str) -> Loader:
    """The loader for a file name, chosen by its extension (case-insensitive).

    Raises ``UnsupportedFormat`` naming the extension when no loader reads it.
    """
    extension = PurePath(name).suffix.lower()
    loader = _LOADERS.get(extension)
    if loader is None:
        supported = ", ".join(sorted(SUPPORTED_EXTENSIONS))
        what = f"'{extension}' files" if extension else "files without an extension"
        raise UnsupportedFormat(f"cannot read {name}: {what} are not supported ({supported})")
    return loader


def load_bytes(data: bytes, name: str, heading_ids: HeadingIdStyle = "github") -> LoadedDocument:
    """Load a file's bytes; ``name`` picks the loader and gives the fallback title.

    ``heading_ids``: the rule Markdown headings are anchored by, the one of the site generator
    that publishes the files (``slugs``). Raises ``UnsupportedFormat`` for an unknown extension
    or bytes that are not what the extension says (see ``sniff``), and ``IngestionError`` for a
    file that cannot be parsed. An empty file gives a document with no sections.
    """
    loader = loader_for(name)
    if heading_ids != "github" and isinstance(loader, MarkdownLoader):
        loader = MarkdownLoader(heading_ids)
    check_content(data, name)
    return loader.load(data, name)


def load_file(path: Path) -> LoadedDocument:
    """Load a file from disk (see ``load_bytes``); an unreadable file raises ``IngestionError``."""
    loader_for(path.name)  # an unsupported type is refused before the file is read
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IngestionError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return load_bytes(data, path.name)
