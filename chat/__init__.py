"""Core of the chat server: storage, auth, services and the connection manager.

Nothing in this package imports ``tornado.web``; handlers live in ``handlers/``.
"""
