"""Engines on demand: providers that start and stop engines, and the autoscaler.

- provider.py: the interface every provider implements, and the port range;
- process.py: engines as supervised child processes;
- docker.py: engines as containers, through the Docker Engine API;
- fleet.py: what acemux knows of each engine it provisioned;
- autoscale.py: the loop that scales, heals and retires them.
"""

from acemux.engine.provision.provider import EngineHandle, Provider, make_provider

__all__ = ["EngineHandle", "Provider", "make_provider"]
