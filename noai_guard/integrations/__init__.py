"""Adapters that run noai_guard's judge inside other frameworks (optional extras)."""
