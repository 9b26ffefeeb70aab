"""Pollers: AWS → Postgres. Each is idempotent, cursor-driven, and runs once per scope at a time."""
