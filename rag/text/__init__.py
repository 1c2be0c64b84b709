"""Text analysis shared by retrieval and answering: the analyzer, word and number normalisation, sentences.

Imports only the root modules of `rag`."""
