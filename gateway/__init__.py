"""Gerbang: the telemetry gateway for pilot smart factories.

The package holds the core of the gateway: the sample model, the config, the pipeline that
carries one batch per device scan from the protocol adapters to the sinks, and the service that
wires them together. Protocol adapters live in the sibling package `adapters`.
"""

__version__ = "0.1.0"
