"""Live state kept in memory and written behind: the conversation cache, the group-commit writer,
write-behind, unread counters, sync pages.
"""
