"""The employee directory: SQLAlchemy tables, Alembic migrations and the store."""

from okta_hris.directory.store import Directory, DirectorySummary

__all__ = ["Directory", "DirectorySummary"]
