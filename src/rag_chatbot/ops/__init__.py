"""Operations: backing up a deployment and restoring it into an empty one.

- ``backup``: ``create_backup(settings, file)`` — tables, uploads, settings fingerprint.
- ``restore``: ``restore_backup(settings, file, force=...)`` — refuses a non-empty target.
- ``archive``: the file format (a tar.gz with a checked manifest).
- ``tables``: every table as JSON lines and back, whatever tables the schema has.
- ``vectors``: the vector index rebuilt from the chunk rows.
"""
