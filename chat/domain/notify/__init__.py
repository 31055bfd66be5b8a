"""Notifications and integrations (README "Notifications and integrations"): paths that send
later or on a user's behalf, each through the ordinary send path
(:meth:`chat.domain.messages.MessageActions.send`, so every safety rule applies)."""
