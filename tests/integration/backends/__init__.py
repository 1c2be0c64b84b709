"""Chat backends for real: llama.cpp in-process and as a server, fakes on real sockets, the queue, OpenAI clients."""
