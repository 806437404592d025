"""Browse an OPC UA server: the variables under a node, so a technician can pick signals.

`browse` walks the hierarchy (Organizes and HasComponent/HasProperty references) below a node,
to `depth` levels, and returns every variable with its node id in the namespace-URI form the
config wants (`nsu=<uri>;s=...`, which survives a server renumbering its namespaces), browse
name, data type, current value and whether that value can be a signal. Objects are listed too,
so a tree can be drawn. Used by `gerbang opcua browse` and by the HTTP API.
"""

from __future__ import annotations

from typing import cast

from asyncua import Client, Node, ua

from gateway.adapter import BrowsedNode

from .values import convert, status_text

MAX_NODES = 5000
"""Stop after this many nodes: a browse is for people, not for dumping a server."""
# A node class mask is a bit set of NodeClass values (OPC UA Part 4, BrowseDescription), but
# asyncua's `get_children` annotates it as one NodeClass member: the OR is an int, so cast.
_OBJECTS_AND_VARIABLES = cast(ua.NodeClass, ua.NodeClass.Object | ua.NodeClass.Variable)


def config_node_id(node_id: ua.NodeId, namespaces: list[str]) -> str:
    """`nsu=<uri>;<id>` for namespaces above 0, `i=85` style for namespace 0."""
    text = node_id.to_string()
    if node_id.NamespaceIndex == 0:
        return text
    identifier = text.split(";", 1)[1] if text.startswith("ns=") else text
    uri = namespaces[node_id.NamespaceIndex]
    return f"nsu={uri};{identifier}"


async def browse(client: Client, start: str = "i=85", depth: int = 3) -> list[BrowsedNode]:
    """The objects and variables below `start` (default: the Objects folder), depth first."""
    from gateway.config.nodeids import NodeIdError, parse_node_id

    namespaces = await client.get_namespace_array()
    node_id = parse_node_id(start).resolve(namespaces)
    if node_id.NamespaceIndex >= len(namespaces):
        raise NodeIdError(
            f"the server has no namespace {node_id.NamespaceIndex} in {start!r} (it has "
            f"{len(namespaces)}: {', '.join(f'{i}={uri}' for i, uri in enumerate(namespaces))})"
        )
    root = client.get_node(node_id)
    try:
        await root.read_node_class()
    except ua.UaStatusCodeError as exc:
        if exc.code != ua.StatusCodes.BadNodeIdUnknown:
            raise
        # Browsing a node that is not there lists nothing: say so instead of an empty tree.
        raise NodeIdError(f"the server has no node {start!r}") from None
    out: list[BrowsedNode] = []
    await _walk(client, root, "", depth, namespaces, out)
    return out


async def _walk(
    client: Client,
    node: Node,
    path: str,
    depth: int,
    namespaces: list[str],
    out: list[BrowsedNode],
) -> None:
    if depth <= 0 or len(out) >= MAX_NODES:
        return
    children = await node.get_children(
        refs=ua.ObjectIds.HierarchicalReferences,
        nodeclassmask=_OBJECTS_AND_VARIABLES,
    )
    for child in children:
        if len(out) >= MAX_NODES:
            return
        name = (await child.read_browse_name()).Name
        node_class = await child.read_node_class()
        here = f"{path}/{name}" if path else name
        item = BrowsedNode(
            config_node_id(child.nodeid, namespaces),
            name,
            "variable" if node_class == ua.NodeClass.Variable else "object",
            here,
        )
        if node_class == ua.NodeClass.Variable:
            await _describe_variable(client, child, item)
        out.append(item)
        if node_class == ua.NodeClass.Object or depth > 1:
            before = len(out)
            await _walk(client, child, here, depth - 1, namespaces, out)
            item.children = len(out) - before


async def _describe_variable(client: Client, node: Node, item: BrowsedNode) -> None:
    try:
        type_id = await node.read_data_type()
        item.data_type = (await client.get_node(type_id).read_browse_name()).Name
    except ua.UaError:
        item.data_type = None
    try:
        data = await node.read_data_value(raise_on_bad_status=False)
    except ua.UaError as exc:
        item.readable = False
        item.error = str(exc)
        return
    if data.StatusCode is not None and not data.StatusCode.is_good():
        item.error = status_text(data.StatusCode)
        item.readable = data.StatusCode.is_uncertain()
    value, error = convert(data.Value.Value if data.Value is not None else None)
    item.value = value
    if error is not None:
        item.readable = False
        item.error = item.error or error
