"""The MC adapter behind the core's interface (`gateway.adapter.Adapter`): `protocol: mc`.

One instance per gateway owns the links, so that every device on one host:port (several CPUs
behind one Ethernet module, reached by their route) shares one serialized connection, pollers,
test reads and writes alike (`adapters.blockadapter`).
"""

from __future__ import annotations

from adapters.blockadapter import BlockAdapter

from .errors import NoResponse
from .link import McLink
from .poller import McPoller
from .writer import write_signal


class McAdapter(BlockAdapter):
    """Mitsubishi MELSEC devices over MC protocol / SLMP (`protocol: mc`)."""

    poller_class = McPoller
    link_class = McLink
    no_response = NoResponse
    write_signal = staticmethod(write_signal)
