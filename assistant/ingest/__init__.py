"""Ingest: per-format readers → structured documents (text + blocks + 公文 metadata)."""
