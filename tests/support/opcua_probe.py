"""An OPC UA client NOT built on asyncua (python-opcua), run as a child process by the tests.

    python tests/support/opcua_probe.py ENDPOINT DEVICE SIGNAL SETPOINT

Browses Objects/Factory in namespace urn:pilot-factory:simulators, reads every variable of
every machine (value or status name), reads SIGNAL's EURange and EngineeringUnits, writes a
value above SETPOINT's EURange (expecting BadOutOfRange), calls DEVICE's InjectFault
("out_of_range") and reads SIGNAL's status until it changes (5 s at most). Prints one JSON
object. python-opcua is old: its warnings are silenced here, in its own process, not in the
test run.
"""

from __future__ import annotations

import json
import sys
import time
import warnings

warnings.simplefilter("ignore")

from opcua import Client, ua  # noqa: E402 - after silencing the library's warnings


def read(node: object) -> tuple[object, str]:
    """(value or status name, status name): python-opcua raises on a bad status."""
    try:
        dv = node.get_attribute(ua.AttributeIds.Value)  # type: ignore[attr-defined]
    except ua.UaStatusCodeError as exc:
        return type(exc).__name__, type(exc).__name__
    return dv.Value.Value, dv.StatusCode.name


def main(endpoint: str, device: str, signal: str, setpoint: str) -> None:
    client = Client(endpoint, timeout=10)
    client.connect()
    try:
        idx = client.get_namespace_index("urn:pilot-factory:simulators")
        factory = client.get_objects_node().get_child([f"{idx}:Factory"])
        tree: dict[str, dict[str, object]] = {}
        for machine in factory.get_children():
            values: dict[str, object] = {}
            for var in machine.get_children():
                if var.get_node_class() != ua.NodeClass.Variable:
                    continue
                values[var.get_browse_name().Name] = read(var)[0]
            tree[machine.get_browse_name().Name] = values
        node = client.get_node(f"ns={idx};s={device}.{signal}")
        eurange = node.get_child([f"{idx}:EURange"]).get_value()
        units = node.get_child([f"{idx}:EngineeringUnits"]).get_value()
        sp = client.get_node(f"ns={idx};s={device}.{setpoint}")
        high = sp.get_child([f"{idx}:EURange"]).get_value().High
        try:
            sp.set_value(ua.DataValue(ua.Variant(high + 100.0, ua.VariantType.Double)))
            refused = None
        except ua.UaStatusCodeError as exc:
            refused = type(exc).__name__
        machine = client.get_node(f"ns={idx};s={device}")
        injected = machine.call_method(f"{idx}:InjectFault", "out_of_range")
        deadline = time.monotonic() + 5  # the server refreshes its values twice a second
        while True:
            after = read(node)[1]
            if after != "Good" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        print(json.dumps({
            "tree": tree,
            "eurange": [eurange.Low, eurange.High],
            "units": [units.DisplayName.Text, units.UnitId],
            "refused": refused,
            "injected": injected,
            "after": after,
        }, default=str))  # fmt: skip
    finally:
        client.disconnect()


if __name__ == "__main__":
    main(*sys.argv[1:5])
