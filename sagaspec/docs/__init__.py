"""Documentation and report generation (schema docs, diagrams, AsyncAPI, HTML reports)."""
