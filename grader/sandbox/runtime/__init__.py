"""Files bound into the sandbox: the worker and its codec (stdlib and NumPy only)."""
