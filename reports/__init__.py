"""Renderers: each takes a finished report document (see audit/schemas/report.schema.json)."""
