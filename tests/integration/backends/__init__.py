"""Chat backends for real: llama.cpp in-process and as a server, fake servers on real sockets, the queue, OpenAI clients."""
