"""tagship plugin: registry-push."""
