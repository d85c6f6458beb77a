"""How the HTTP server runs, apart from what it answers.

Worker processes with a listening socket each (``workers``) and the connection balance between
them (``balance``), the cap on answers computed at once (``threads``), and the relay that
streams a blocking iterator to the event loop (``streaming``). Nothing here knows a route: the
API and the ``serve`` command both build on it.
"""
