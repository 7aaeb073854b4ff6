"""tagship_ossd: a local Aliyun OSS endpoint for tests, benchmarks and the demo (``tagship oss-server``).

A test double, not part of any plugin: it imports nothing of tagship's, and no plugin image installs it.
``python -m tagship_ossd`` runs the server (the same as ``tagship oss-server``).
"""
