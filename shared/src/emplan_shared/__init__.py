"""emplan's own shared package: what every service needs and nothing that belongs to one service."""
