"""Issuing tokens (OAuth2 password, client-credentials and refresh grants) and publishing the JWKS."""
