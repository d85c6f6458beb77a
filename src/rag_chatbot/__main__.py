"""``python -m rag_chatbot``: the same as the ``rag-chatbot`` command."""

from rag_chatbot.cli.main import app

app()
