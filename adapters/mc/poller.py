"""Polls one MELSEC PLC at its interval: the MC planner's batch reads on the shared link.

Reads are planned by `planner.plan_reads` in word units (bit devices 16 bits a point, within
`max_words`); a read the PLC refuses for its devices (0xC056 address out of range, ...) is
split, and signals that fail alone are read alone from then on (`adapters.blockpoller`). Any
other end code (a command this PLC does not take, a wrong route) fails the scan: it concerns
the device, not one signal.
"""

from __future__ import annotations

from adapters.blockpoller import BlockPoller
from gateway.adapter import AdapterError, Publisher
from gateway.config.models import McDevice
from gateway.status import DeviceStatus

from .address import McLocation, locate
from .codec import BlockDecoder, McField
from .errors import EndCodeError
from .frame import BIT_DEVICES, Route
from .link import McLink
from .planner import ReadRequest, plan_reads, split_failed


class McPoller(BlockPoller[ReadRequest]):
    """The polling task of one MC device."""

    def __init__(
        self, device: McDevice, link: McLink, publisher: Publisher, status: DeviceStatus
    ) -> None:
        super().__init__(device, publisher, status, [(s.name, s.unit) for s in device.signals])
        self.link = link
        self.route = Route(device.network, device.station, device.module_io, device.multidrop)
        self._fields = [
            McField(
                s.name,
                locate(s.address, s.type, s.length),
                s.scale,
                s.offset,
                s.unit,
                s.decimals,
            )
            for s in device.signals
        ]
        self._locations: list[McLocation] = [f.location for f in self._fields]
        status.min_requests_per_scan = len(
            plan_reads(self._locations, device.max_words, device.max_gap)
        )
        self.replan()

    def _plan_requests(self, isolate: set[int]) -> list[ReadRequest]:
        return plan_reads(self._locations, self.device.max_words, self.device.max_gap, isolate)

    def _decoder(self, request: ReadRequest) -> BlockDecoder:
        members = [(i, self._fields[i]) for i in request.members]
        return BlockDecoder(request.word, request.points, members)

    async def _read(self, request: ReadRequest) -> bytes:
        return await self.link.read_words(
            request.device, request.head, request.points, self.route, _describe(request)
        )

    def _split(self, request: ReadRequest) -> list[ReadRequest]:
        return split_failed(request, self._locations)

    def _refused(self, exc: AdapterError) -> bool:
        return isinstance(exc, EndCodeError) and exc.is_address_problem

    def _members(self, request: ReadRequest) -> tuple[int, ...]:
        return request.members


def _describe(request: ReadRequest) -> str:
    """`D100-D109`, or `M0-M31` for a bit device read in words."""
    device = request.device
    if device in BIT_DEVICES:
        first, last = request.head, request.head + 16 * request.points - 1
    else:
        first, last = request.head, request.head + request.points - 1
    hexadecimal = device in ("X", "Y", "B", "W")
    spell = (lambda n: f"{device}{n:X}") if hexadecimal else (lambda n: f"{device}{n}")
    return spell(first) if first == last else f"{spell(first)}-{spell(last)}"
