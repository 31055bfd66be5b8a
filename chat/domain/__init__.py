"""The chat domain: the service facade and one action module per concept (conversations, messages,
markers, reactions, search, sync, directory).
"""
