"""tagship plugin: oss-push."""
