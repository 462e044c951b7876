"""The employee directory: SQLAlchemy tables, Alembic migrations and the store."""

from okta_hris.directory.store import Directory
from okta_hris.domain.changes import DirectorySummary

__all__ = ["Directory", "DirectorySummary"]
