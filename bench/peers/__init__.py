"""Peers of our benchmarks: other open-source gateways, installed from their registries at run
time (never committed), run on the same workload for side-by-side figures."""
