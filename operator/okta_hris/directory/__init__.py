"""The employee directory: SQLAlchemy tables, Alembic migrations and the store."""
