"""What is stored: the SQLAlchemy models, the database connection and the Alembic migrations."""
