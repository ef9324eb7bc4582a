"""Talking to a running agentmemory over its REST API (docs/DELIVERY.md): the HTTP client and
where its secret comes from. Transport only: what to send, and when, is the delivery run's."""
