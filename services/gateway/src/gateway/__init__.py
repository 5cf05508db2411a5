"""gateway: the one public port, accounts and tokens, the merged OpenAPI and docs, the exchange API."""
