"""Notifications: how chat reaches people who are not looking (README "Notifications and integrations")."""
