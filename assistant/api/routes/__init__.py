"""One module per resource: ask/search, documents, the OpenAI-compatible chat, health."""
