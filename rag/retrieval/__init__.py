"""Finding the chunks that answer a question: embedders, the ONNX query encoder, BM25, re-rankers, hybrid retrieval.

Imports `rag.storage`, `rag.text` and the root modules."""
