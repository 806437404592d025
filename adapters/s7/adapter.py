"""The S7 adapter behind the core's interface (`gateway.adapter.Adapter`): `protocol: s7`.

One instance per gateway owns the links, so that every device on one PLC (host, port, rack,
slot, connection type) shares one serialized connection, pollers, test reads and writes alike
(`adapters.blockadapter`).
"""

from __future__ import annotations

from adapters.blockadapter import BlockAdapter

from .errors import NoResponse
from .link import S7Link
from .poller import S7Poller
from .writer import write_signal


class S7Adapter(BlockAdapter):
    """Siemens S7 devices (`protocol: s7`)."""

    poller_class = S7Poller
    link_class = S7Link
    no_response = NoResponse
    extra_requests = 2  # the ISO connect and the PDU negotiation
    write_signal = staticmethod(write_signal)
