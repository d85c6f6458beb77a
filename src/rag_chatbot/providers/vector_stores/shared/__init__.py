"""One process's ``VectorStore`` served to others over a Unix socket.

Qdrant Edge opens a shard in one process only, so ``serve --workers N`` opens it in the parent,
serves it with ``server.VectorStoreServer``, and each worker uses a ``client.SharedVectorStore``
that finds the server through the environment ``workers.share_with_workers`` sets for the
processes started meanwhile.

Wire format: ``multiprocessing.connection``, a request ``(method, args, kwargs)``, a reply
``("ok", result)`` or ``("error", type name, message)``, pickled, and only read from a peer that
proved it holds the authkey (HMAC, both ways). A method is one of the store's, or a procedure
the server was given: a function of the store run where the index is, so that a rule made of
several store calls costs one round trip (the hybrid retriever's ``complete_scores``).
"""
