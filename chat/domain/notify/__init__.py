"""Notifications and integrations: webhooks (events POSTed to a school's LMS) and bots
(service accounts an LMS posts with)."""
