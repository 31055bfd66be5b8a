"""The real-time tier: sessions, the wire protocol, connections, the socket event sink, typing,
keep-alive. No sockets: frames leave through an injected transport.
"""
