"""Presence as one package: the relation (who sees whom), the contacts index, and the local and
shared (Redis) backends.
"""
