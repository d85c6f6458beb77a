"""rag-chatbot: answer questions from a book or documentation set, with honest citations."""

__version__ = "0.1.0"
