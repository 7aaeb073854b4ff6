"""tagship plugin: version-bump."""
