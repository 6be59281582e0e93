"""Config surfaces (manual §5): pydantic models, YAML loading with line numbers, cross-file checks."""
