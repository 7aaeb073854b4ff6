"""tagship's pipeline tools: reading a ``.drone.yml`` as Drone does, and the ``tagship`` umbrella.

``tagship exec`` (``runner``), ``tagship lint`` (``lint``, ``lint_drone``), ``tagship docs`` (``docs``) and the
Drone YAML reader they share (``drone_yaml``), built on ports of Drone's Go code: ``envsubst`` (+
``envsubst_funcs``, ``gostr``) is drone/envsubst v1.0.3, ``goyaml`` is go-yaml v2's typing, ``encoder`` is
drone-runner-docker's settings encoder with runner-go's ``Parameter``/``Variable``. Tools import the kit (``tagship``); the kit and the plugins never import
this package, and plugin images do not install it.
"""
