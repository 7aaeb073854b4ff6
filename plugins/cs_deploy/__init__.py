"""tagship plugin: cs-deploy."""
