"""The `rag` command as a user runs it."""
