"""Operations: what the operator's scripts and commands run (docs/runbook.md).

Backup and restore of a deployment:

- ``backup``: ``create_backup(settings, file)`` — tables, uploads, settings fingerprint.
- ``restore``: ``restore_backup(settings, file, force=...)`` — refuses a non-empty target.
- ``archive``: the file format (a tar.gz with a checked manifest).
- ``tables``: every table as JSON lines and back, whatever tables the schema has.
- ``vectors``: the vector index rebuilt from the chunk rows.

The database scripts, the full backup and the disaster-recovery test (``python3 -m`` entries):

- ``dbfiles``: dump kinds, "does this database hold data", SQLite dumps and restores.
- ``fullbackup``, ``bundle``, ``vector_copy``: the full-backup archive, its checksums, and a
  consistent copy of the vector index (or a Qdrant server snapshot).
- ``drtest``, ``drenv``, ``questions``: restore into a scratch environment and compare counts
  and answers with what the backup recorded.
- ``textfile``: the ``*.prom`` files the node exporter's textfile collector serves.

Reports and upkeep (``rag-chatbot report``, ``sessions prune``, ``index compact``, ``db vacuum``):

- ``scrape``, ``logstats``, ``performance``: the performance report, from /api/metrics and logs.
- ``capacity``: sizes, growth and headroom.
- ``retention``: deleting idle conversations; ``compaction``: index compaction, database vacuum.
- ``target``: what a restore target already holds (a restore refuses one that holds data).
"""
