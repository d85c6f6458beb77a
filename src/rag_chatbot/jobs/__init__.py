"""Ingest jobs: every ingest (a folder, a file, a site, a re-index, an upload) is a job.

A job is planned into tasks, one document each, so several workers share one corpus; its row
and its tasks' rows in the database are its state (``store``). With ``BROKER_URL`` the
messages go through Dramatiq (``broker``) to ``rag-chatbot worker`` processes (``worker``,
``keeper``); without it they run in the process that takes the job (``inline``). The work is
the same code either way (``tasks``). docs/jobs.md tells the story; docs/architecture.md
where it sits.
"""
