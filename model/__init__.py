"""sagaspec.model."""
