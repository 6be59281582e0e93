"""The data layer: SQLModel tables, engines and numbered migrations."""
