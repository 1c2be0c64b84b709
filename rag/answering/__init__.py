"""Turning retrieved chunks into answers: the answer service, answerability, extractive answers, grounding, overview,
task requests, prompts, quoting, chat, summarize and what a summary reads. Imports `rag.retrieval`, `rag.backends`
and the layers below them."""
