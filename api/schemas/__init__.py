"""Request and response models, one module per resource: what /docs shows is the real contract."""
