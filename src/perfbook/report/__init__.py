"""Renderers: they only present a report (terminal, JSON, Markdown). The JSON form is the contract."""
