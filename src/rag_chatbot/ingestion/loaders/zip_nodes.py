"""A limit on the XML nodes of a whole zip container, for libraries that parse every part.

``archive.check_zip`` bounds each part on its own. python-pptx builds an lxml tree of every
XML part a presentation reaches (each slide, layout and master), and odfpy one of every part
it reads (content, styles, settings, meta, embedded objects), all kept for the document's
lifetime: 200 MB of ``<a:p/>`` spread over twenty slides stays under every per-part limit yet
is 33 million elements, several GB of tree. Counting all the parts together closes that gap;
the count streams, like ``check_zip``'s, so it holds almost nothing itself.
"""

from __future__ import annotations

import io
import zipfile

from rag_chatbot.errors import IngestionError
from rag_chatbot.ingestion.loaders.limits import MarkupCounter

_READ_SIZE = 64 * 1024


def check_total_nodes(data: bytes, label: str, limit: int) -> None:
    """Raise ``IngestionError`` naming ``label`` if all parts together hold over ``limit`` nodes.

    Call it after ``check_zip``, which has already refused an archive that cannot be read.
    """
    counted = 0
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for entry in archive.infolist():
            if entry.is_dir():
                continue
            counter = MarkupCounter(html=False, limit=limit - counted)
            with archive.open(entry) as stream:
                while (chunk := stream.read(_READ_SIZE)) and not counter.over:
                    counter.feed(chunk)
            counted += counter.close()
            if counted > limit:
                raise IngestionError(
                    f"{label} has more than {limit:,} XML elements in all its parts, "
                    "over the limit for one document"
                )
