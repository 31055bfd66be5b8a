"""Running several server processes on one MongoDB and one Redis (see README "Scaling out").

A cluster is a backend behind the seams one process uses, not a second copy of the path:

- :mod:`chat.cluster.broker`: the Redis broker (deliveries between nodes, in seq order);
- :mod:`chat.cluster.envelope`: what one node sends another (a typed header, then the frame);
- :mod:`chat.cluster.order`: the per-conversation ordering buffer;
- :mod:`chat.cluster.link`: the Redis link (publisher, subscriber, reconnects);
- :mod:`chat.cluster.seqs`: seqs reserved atomically in MongoDB per batch and conversation;
- :mod:`chat.cluster.dbcommand`: the ``db`` command, a standalone embedded database that
  several servers share.

Presence across nodes is the presence package's shared backend, :mod:`chat.presence.shared`.
"""
