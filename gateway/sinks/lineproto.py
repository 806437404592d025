"""InfluxDB line protocol for the SPEC's schema: pure functions, no network, cached per device.

One point per device scan:

    {measurement},area=..,device=..,gateway=..,line=..,site=.. {signal}={value},... {ts_ms}

Tags are sorted by key (what InfluxDB stores anyway, and cheaper for it to parse); empty
hierarchy levels are left out, since InfluxDB rejects an empty tag value. Only good samples
become fields; a scan with none becomes no point. The escaped prefix of each device is built
once; after that a point costs one f-string per field (~0.7 µs a point, LIBRARIES.md, against
8 µs for influxdb-client's `Point`).

Field types must never change: InfluxDB refuses a whole write when a field that holds integers
receives a float. A signal declared `uint64` gets the type `influxdb.uint64` chooses (integer,
unsigned or string: InfluxDB's integers are int64, and InfluxDB 1.x stores no unsigned ones);
for the others, the first value of each field fixes its type here; an integer later written
to a float field is written as a float, an integral float to an integer field as an integer,
and anything else (a string where a number was) is left out of the point, counted, and
reported once per field. A whole number above int64's range in an integer field is left out
too, and the log says so and what to set.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

from gateway.config.models import GatewayIdentity
from gateway.model import GOOD, Batch, Report, Sample

log = logging.getLogger(__name__)

_MEASUREMENT = str.maketrans({",": r"\,", " ": r"\ ", "\n": r"\n"})
_KEY = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\n"})
_STRING = str.maketrans({'"': r"\"", "\\": "\\\\", "\n": r"\n"})
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
UINT64_MAX = 2**64 - 1
UINT64_KINDS = {"integer": "i", "unsigned": "u", "string": "s"}
"""`influxdb.uint64` -> the field type of a uint64 signal."""


def escape_measurement(name: str) -> str:
    """A measurement name with commas, spaces and newlines escaped."""
    return name.translate(_MEASUREMENT)


def escape_key(name: str) -> str:
    """A tag key, tag value or field key with commas, equals signs, spaces, newlines escaped."""
    return name.translate(_KEY)


def string_field(value: str) -> str:
    """A string field value: quoted, with quotes, backslashes and newlines escaped."""
    return f'"{value.translate(_STRING)}"'


def kind_of(value: object) -> str:
    """The line-protocol type of a Python value: b(ool), i(nteger), f(loat) or s(tring).

    A whole number beyond int64 is `f` here (what a field of unknown type can take); an
    encoder that knows the signal is uint64 gives it `u` or `s` instead."""
    if isinstance(value, bool):
        return "b"
    if isinstance(value, int):
        return "i" if INT64_MIN <= value <= INT64_MAX else "f"
    if isinstance(value, float):
        return "f"
    return "s"


def render(kind: str, value: object) -> str | None:
    """`value` written as a field of type `kind`, or None when it cannot be."""
    have = kind_of(value)
    if kind == "f" and have in ("f", "i"):
        return repr(float(value))  # type: ignore[arg-type]
    if kind == "i" and have == "i":
        return f"{value}i"
    if kind == "i" and have == "f" and float(value).is_integer():  # type: ignore[arg-type]
        number = int(value)  # type: ignore[call-overload]
        if INT64_MIN <= number <= INT64_MAX:
            return f"{number}i"
        return None
    if kind == "u" and isinstance(value, int) and not isinstance(value, bool):
        return f"{value}u" if 0 <= value <= UINT64_MAX else None
    if kind == "s" and have in ("i", "f") and isinstance(value, int):
        return string_field(str(value))  # exact: a whole number as its decimal text
    if kind == "b" and have == "b":
        return "true" if value else "false"
    if kind == "s" and have == "s":
        return string_field(str(value))
    return None


@dataclass(slots=True)
class _Device:
    prefix: str
    fields: dict[str, tuple[str, str]] = field(default_factory=dict)
    """signal -> (escaped field key, fixed type)."""


class LineEncoder:
    """Encodes batches as points for one gateway; remembers each field's type (see module doc)."""

    def __init__(
        self,
        identity: GatewayIdentity,
        measurements: dict[str, str],
        unsigned: frozenset[tuple[str, str]] = frozenset(),
        uint64: str = "integer",
    ) -> None:
        """`unsigned`: the (device, signal) pairs declared `uint64`, written as `uint64`
        (`influxdb.uint64`) says."""
        self._tags = {
            "site": identity.site,
            "area": identity.area,
            "line": identity.line,
            "gateway": identity.id,
        }
        self._measurements = measurements
        self._unsigned = unsigned
        self._uint64_kind = UINT64_KINDS[uint64]
        self._devices: dict[str, _Device] = {}
        self._field_kinds: dict[tuple[str, str], str] = {}
        self.conflicts = 0
        """Values left out because their type differs from the field's."""
        self._reported: set[tuple[str, str]] = set()

    def _device(self, device: str) -> _Device:
        measurement = self._measurements.get(device, "machine")
        tags = {**self._tags, "device": device}
        pairs = ",".join(f"{escape_key(k)}={escape_key(v)}" for k, v in sorted(tags.items()) if v)
        entry = self._devices[device] = _Device(f"{escape_measurement(measurement)},{pairs} ")
        return entry

    def line(self, batch: Batch) -> tuple[str, int] | None:
        """The point of one device scan and its number of fields, or None without good values.

        A batch with source timestamps (OPC UA) becomes one line per distinct timestamp.
        """
        if batch.source_ts:
            return self._lines_by_ts(batch)
        return self._line(batch.device, batch.samples, batch.ts)

    def _lines_by_ts(self, batch: Batch) -> tuple[str, int] | None:
        groups: dict[int, list[Sample]] = {}
        for sample in batch.samples:
            groups.setdefault(sample.ts, []).append(sample)
        lines: list[str] = []
        fields = 0
        for ts in sorted(groups):
            point = self._line(batch.device, groups[ts], ts)
            if point is not None:
                lines.append(point[0])
                fields += point[1]
        return ("\n".join(lines), fields) if lines else None

    def _line(self, device_id: str, samples: list[Sample], ts: int) -> tuple[str, int] | None:
        device = self._devices.get(device_id) or self._device(device_id)
        known = device.fields
        parts: list[str] = []
        for sample in samples:
            if sample.quality is not GOOD or sample.value is None:
                continue
            value = sample.value
            spec = known.get(sample.signal)
            if spec is None:
                spec = self._field(device_id, sample.signal, value)
                known[sample.signal] = spec
            key, kind = spec
            if kind == kind_of(value):
                if kind == "f":
                    parts.append(f"{key}={value!r}")
                elif kind == "i":
                    parts.append(f"{key}={value}i")
                else:
                    parts.append(f"{key}={render(kind, value)}")
                continue
            text = render(kind, value)
            if text is None:
                self._conflict(device_id, sample.signal, kind, value)
                continue
            parts.append(f"{key}={text}")
        if not parts:
            return None
        return f"{device.prefix}{','.join(parts)} {ts}", len(parts)

    def report_line(self, report: Report) -> str | None:
        """The point of a report: its measurement, the sample tags plus its own, its fields."""
        tags = {**self._tags, "device": report.device, **report.tags}
        pairs = ",".join(f"{escape_key(k)}={escape_key(v)}" for k, v in sorted(tags.items()) if v)
        fields = []
        for name, value in report.fields.items():
            if isinstance(value, float) and not math.isfinite(value):
                continue  # InfluxDB refuses NaN and infinity
            text = render(kind_of(value), value)
            if text is not None:
                fields.append(f"{escape_key(name)}={text}")
        if not fields:
            return None
        return f"{escape_measurement(report.measurement)},{pairs} {','.join(fields)} {report.ts}"

    def _field(self, device: str, signal: str, value: object) -> tuple[str, str]:
        measurement = self._measurements.get(device, "machine")
        if (device, signal) in self._unsigned:
            natural = self._uint64_kind
        else:
            natural = kind_of(value)
            if natural == "f" and isinstance(value, int):
                natural = "i"  # beyond int64: an integer field, not a float that rounds it
        kind = self._field_kinds.setdefault((measurement, signal), natural)
        return escape_key(signal), kind

    def _conflict(self, device: str, signal: str, kind: str, value: object) -> None:
        self.conflicts += 1
        if (device, signal) not in self._reported:
            self._reported.add((device, signal))
            if kind == "i" and isinstance(value, int) and not isinstance(value, bool):
                log.error(
                    "influxdb: device %s signal %s: %d is beyond InfluxDB's integers (int64, "
                    "%d..%d); left out of the point. For a uint64 signal set influxdb.uint64: "
                    "string (exact, every InfluxDB) or unsigned (InfluxDB 2.x/3.x)",
                    device,
                    signal,
                    value,
                    INT64_MIN,
                    INT64_MAX,
                )
                return
            names = {"b": "boolean", "i": "integer", "f": "float", "s": "string", "u": "unsigned"}
            log.error(
                "influxdb: device %s signal %s: %r is not a %s like its earlier values; "
                "left out of the point (InfluxDB would refuse the field)",
                device,
                signal,
                value,
                names[kind],
            )
