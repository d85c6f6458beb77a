"""Which files an ingest reads, and the source (the document's identity) each one gets.

A document is known by its ``source``: the path relative to the folder it was ingested from
(``guide/install.md``), readable in citations and links. Two folders can hold the same
relative path — ``a/index.md`` and ``b/index.md``, or a user's ``index.md`` beside the
quickstart's — and one must never replace the other. So a source belongs to the folder
(``origin``) that first claimed it; a file of another folder with the same relative path is
kept under its folder's name (``b/index.md``), and under the folder's name plus a hash of
its location if even that is taken. The claim is looked up again on every ingest, so a
folder's files keep the sources they got the first time.

Files over ``max_bytes`` are skipped with their size, before anything reads them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rag_chatbot.db.repository import DocumentRepository
from rag_chatbot.ingestion.loaders import SUPPORTED_EXTENSIONS

MB = 1024 * 1024


@dataclass(frozen=True)
class Job:
    path: Path
    source: str
    origin: str
    size: int = 0


@dataclass
class Plan:
    """The files to read, the folders whose missing files are pruned, and what was left out."""

    jobs: list[Job] = field(default_factory=list)
    directories: dict[str, set[str]] = field(default_factory=dict)
    skipped: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    renamed: list[dict[str, str]] = field(default_factory=list)


class Planner:
    """Lists the files of the given paths and gives each its source (see the module)."""

    def __init__(self, repository: DocumentRepository, max_bytes: int) -> None:
        self._repo = repository
        self._max_bytes = max_bytes

    def plan(self, paths: Iterable[Path]) -> Plan:
        plan = Plan()
        claimed: dict[str, str] = {}  # sources given in this run -> their origin
        for path in paths:
            if path.is_dir():
                origin = str(path.resolve())
                seen = plan.directories.setdefault(origin, set())
                for file in sorted(p for p in path.rglob("*") if p.is_file()):
                    relative = file.relative_to(path).as_posix()
                    if any(part.startswith(".") for part in Path(relative).parts):
                        continue  # hidden files and folders (.git, .DS_Store) are not documents
                    size = self._size_if_fits(file, relative, plan)
                    if size is not None:
                        source = self._claim(relative, origin, claimed, plan, alone=False)
                        seen.add(source)
                        plan.jobs.append(Job(file, source, origin, size))
            elif path.is_file():
                size = self._size_if_fits(path, path.name, plan)
                if size is not None:
                    # A file alone belongs to its folder: ingesting the folder later finds it.
                    origin = str(path.resolve().parent)
                    source = self._claim(path.name, origin, claimed, plan, alone=True)
                    plan.jobs.append(Job(path, source, origin, size))
            else:
                plan.failed.append({"source": str(path), "reason": "no such file or directory"})
        return plan

    def _size_if_fits(self, file: Path, source: str, plan: Plan) -> int | None:
        """The file's size, or None (recorded as skipped) for a type or size not read."""
        if file.suffix.lower() not in SUPPORTED_EXTENSIONS:
            plan.skipped.append({"source": source, "reason": f"unsupported type {file.suffix!r}"})
            return None
        size = file.stat().st_size
        if size > self._max_bytes:
            plan.skipped.append(
                {
                    "source": source,
                    "reason": f"{size / MB:.1f} MB, over the {self._max_bytes / MB:g} MB limit "
                    "(MAX_DOCUMENT_MB)",
                }
            )
            return None
        return size

    def _claim(
        self, relative: str, origin: str, claimed: dict[str, str], plan: Plan, *, alone: bool
    ) -> str:
        """The source for ``relative`` from ``origin``: its own, or one its folder's name keeps."""
        folder = Path(origin).name or "root"
        digest = hashlib.sha256(origin.encode()).hexdigest()
        candidates = [
            relative,
            f"{folder}/{relative}",
            f"{folder}-{digest[:6]}/{relative}",
            f"{folder}-{digest}/{relative}",
        ]
        for candidate in candidates:
            holder = claimed.get(candidate)
            if holder is None:
                row = self._repo.get_by_source(candidate)
                holder = row.origin if row is not None else None
            # A file ingested alone before sources had owners has an empty origin: the same
            # file ingested again takes it back.
            legacy = holder == "" and alone and candidate == relative
            if holder is None or holder == origin or legacy:
                claimed[candidate] = origin
                if candidate != relative:
                    plan.renamed.append(
                        {"source": candidate, "reason": f"{relative} is another folder's document"}
                    )
                return candidate
        # Four owners of one name, the last with the same folder name and hash: a collision
        # of SHA-256, not something to plan for beyond keeping the files apart.
        raise AssertionError(f"no free source for {relative} from {origin}")


def file_of(origin: str, source: str) -> Path:
    """The file a folder's document was read from (its source may carry the folder's name)."""
    path = Path(origin) / source
    first, _, rest = source.partition("/")
    folder = Path(origin).name or "root"
    if not path.exists() and rest and (first == folder or first.startswith(f"{folder}-")):
        return Path(origin) / rest
    return path
