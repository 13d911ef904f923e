"""sagaspec.adapters."""
