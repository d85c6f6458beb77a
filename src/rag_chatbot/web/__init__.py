"""The web reader, the admin page and the embeddable chat widget (no front-end build step).

``routes.router`` serves the HTML pages, ``/widget.js`` and ``/static``; the browser code is
plain ES modules and CSS in ``static/``, and it talks to the same HTTP API as everyone else.
"""

from rag_chatbot.web.routes import router

__all__ = ["router"]
