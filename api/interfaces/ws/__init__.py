"""The agents' WebSocket (`/api/v1/ws`): real-time inbox events."""
