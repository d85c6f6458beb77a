"""Observability: text or JSON logs, Prometheus metrics and the HTTP middleware that feeds both.

- ``logging``: ``configure_logging(log_dir, level, log_format)``, secret redaction;
  ``log_text``: the text lines; ``log_context``: request id and client address.
- ``metrics``: every Prometheus metric, ``render_latest()``, multiprocess set-up helpers.
- ``middleware``: ``ObservabilityMiddleware`` (request id, HTTP metrics, access log).

Nothing is imported here: importing ``metrics`` creates the metrics, which in multiprocess
mode must wait until ``PROMETHEUS_MULTIPROC_DIR`` is set (see ``metrics``).
"""
