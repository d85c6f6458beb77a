"""release_freed_memory hands the heap that freed objects leave back to the system."""

from __future__ import annotations

import psutil

from rag_chatbot.ingestion.heap import _malloc_trim, release_freed_memory


def test_freed_objects_no_longer_count_as_resident() -> None:
    process = psutil.Process()
    # Strings over Python's small-object limit come from malloc; a few survivors scattered
    # among them (as rows outlive a file's passages) keep glibc from shrinking its heap.
    texts = [("passage text " * 50) + str(i) for i in range(400_000)]
    survivors = texts[::64]
    del texts
    kept = process.memory_info().rss
    release_freed_memory()
    released = process.memory_info().rss
    assert _malloc_trim() is not None, "this machine's C library is glibc"
    assert len(survivors) == 6250
    assert released < kept - 100_000_000, (kept, released)
