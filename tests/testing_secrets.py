"""Secrets for test deployments: long enough for ENVIRONMENT=test, never used anywhere else."""

TEST_JWT_SECRET = "test-only-jwt-secret-0123456789abcdef-not-for-production"
TEST_ADMIN_TOKEN = "test-only-admin-token-0123456789"
