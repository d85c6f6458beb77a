"""Accounts and login sessions: password hashing, JWTs, the users table, revocable sessions."""
