"""The event backbone: transactional outbox, relay to JetStream, idempotent durable consumers."""
