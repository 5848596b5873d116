"""Real-time fan-out of inbox events through Redis."""
