"""Tornado handlers: parse, authorize, call one service method, render. No state here."""
