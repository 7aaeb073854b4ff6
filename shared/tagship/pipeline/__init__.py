"""tagship's pipeline tools: reading a ``.drone.yml`` as Drone does, and the ``tagship`` umbrella.

``tagship exec`` (``runner``), ``tagship lint`` (``lint``), ``tagship docs`` (``docs``) and the Drone YAML
reader they share (``drone_yaml``). Tools import the kit (``tagship``); the kit and the plugins never import
this package, and plugin images do not install it.
"""
