"""Answers, summaries and retrieval quality end to end."""
