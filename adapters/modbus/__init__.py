"""Modbus TCP and RTU: codec, read planner, shared links and the per-device poller."""
