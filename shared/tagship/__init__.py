"""tagship's kit: what every plugin shares.

Settings from ``PLUGIN_*`` (Drone 1.x encoding), the Drone/Woodpecker context, output with secret
masking, the retry policy, results and the entry-point wrapper. Importing this package is cheap: no heavy
SDK (docker, oss2, aliyunsdkcore) is imported here or by any kit module at import time.
"""

__version__ = "0.1.0"
