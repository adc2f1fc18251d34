"""Small shared pieces."""
