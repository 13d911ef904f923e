"""sagaspec.conformance."""
