"""HTTP layer: FastAPI app, routes and the error contract."""
