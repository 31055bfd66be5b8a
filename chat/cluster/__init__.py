"""Running several server processes on one MongoDB and one Redis (see README "Scaling out").

- :mod:`chat.cluster.dbcommand`: the ``db`` command, a standalone embedded database that
  several servers share;
- :mod:`chat.cluster.seqs`: seqs reserved atomically in MongoDB per batch and conversation;
- :mod:`chat.cluster.link`: the Redis link (publisher, subscriber, reconnects);
- :mod:`chat.cluster.node`: the event sink and ordering buffer that carry pushes between nodes;
- :mod:`chat.cluster.presence`: presence across nodes with heartbeat keys.
"""
