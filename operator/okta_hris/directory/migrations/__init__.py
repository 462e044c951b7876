"""Alembic migrations of the directory; run by ``okta_hris.directory.database.migrate``.

A package (not just a folder) so that setuptools ships ``env.py`` with the wheel.
"""
