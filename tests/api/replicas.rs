//! Replicas on one PostgreSQL database (runs in tests/api_postgres; on SQLite there is one server per file).
