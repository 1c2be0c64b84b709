"""What happens to every request around its route: API keys, body limits, the request log, metrics, tracing."""
