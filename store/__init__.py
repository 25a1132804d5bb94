"""The store: SQLAlchemy models, sessions, migrations, ingestion and dataset adapters."""
