"""Polls one S7 PLC at its interval: the S7 planner's reads on the shared link, one batch a scan.

Reads are planned by `planner.plan_reads` within the PDU the PLC granted (240 bytes until the
first connect, then what it negotiated: the plan is redone when that changes). A refused item
(an absent DB, a DB shorter than the address) is split, and signals that fail alone are read
alone from then on (`adapters.blockpoller`).
"""

from __future__ import annotations

from adapters.blockpoller import BlockPoller
from gateway.adapter import AdapterError, Publisher
from gateway.config.models import S7Device
from gateway.model import Sample
from gateway.status import DeviceStatus

from .address import S7Location, locate
from .codec import BlockDecoder, S7Field
from .errors import ItemRefused
from .link import S7Link
from .planner import ReadRequest, plan_reads, split_failed


class S7Poller(BlockPoller[ReadRequest]):
    """The polling task of one S7 device."""

    def __init__(
        self, device: S7Device, link: S7Link, publisher: Publisher, status: DeviceStatus
    ) -> None:
        super().__init__(device, publisher, status, [(s.name, s.unit) for s in device.signals])
        self.link = link
        self._fields = [
            S7Field(
                s.name,
                locate(s.address, s.type, s.length),
                s.scale,
                s.offset,
                s.unit,
                s.decimals,
            )
            for s in device.signals
        ]
        self._locations: list[S7Location] = [f.location for f in self._fields]
        self._pdu = 0
        self.replan()

    def _plan_requests(self, isolate: set[int]) -> list[ReadRequest]:
        self._pdu = min(self.link.pdu_size, self.device.pdu_size)
        gap = self.device.max_gap
        self.status.min_requests_per_scan = len(plan_reads(self._locations, self._pdu, gap))
        return plan_reads(self._locations, self._pdu, gap, isolate)

    def _decoder(self, request: ReadRequest) -> BlockDecoder:
        members = [(i, self._fields[i]) for i in request.members]
        return BlockDecoder(request.start, request.size, members)

    async def _read(self, request: ReadRequest) -> bytes:
        return await self.link.read(
            request.area, request.db, request.start, request.size, str(request)
        )

    def _split(self, request: ReadRequest) -> list[ReadRequest]:
        return split_failed(request, self._locations)

    def _refused(self, exc: AdapterError) -> bool:
        return isinstance(exc, ItemRefused)

    def _members(self, request: ReadRequest) -> tuple[int, ...]:
        return request.members

    async def scan(self) -> list[Sample]:
        """One scan; the plan follows the PDU size the PLC granted at its last connect."""
        if min(self.link.pdu_size, self.device.pdu_size) != self._pdu:
            self.replan()
        samples = await super().scan()
        if min(self.link.pdu_size, self.device.pdu_size) != self._pdu:
            self.replan()  # connected during this scan: the next one uses the granted PDU
        return samples
