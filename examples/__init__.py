"""sagaspec.examples."""
