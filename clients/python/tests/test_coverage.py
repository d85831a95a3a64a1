"""The client covers every operation the server documents, and nothing it doesn't."""

from __future__ import annotations

import inspect
import json
import re
import urllib.request

import agentshare
from agentshare import OPERATIONS

ENTRY = re.compile(r"(?P<cls>\w+)\.(?P<method>\w+)(?:\(route='(?P<route>\w+)'\))?")


def server_operations(server: str) -> set:
    with urllib.request.urlopen(server + "/openapi.json", timeout=30) as response:
        document = json.loads(response.read())
    found = set()
    for operations in document["paths"].values():
        for operation in operations.values():
            if isinstance(operation, dict) and "operationId" in operation:
                found.add(operation["operationId"])
    return found


def test_every_operation_of_the_server_has_a_method(server):
    served = server_operations(server)
    assert len(served) >= 54
    missing = sorted(served - set(OPERATIONS))
    assert not missing, "operations the client does not cover: {}".format(", ".join(missing))
    gone = sorted(set(OPERATIONS) - served)
    assert not gone, "operations in the client's table the server no longer has: {}".format(", ".join(gone))


def test_every_method_in_the_table_exists():
    wrong = []
    for operation, entry in OPERATIONS.items():
        match = ENTRY.fullmatch(entry)
        cls = getattr(agentshare, match.group("cls"), None) if match else None
        method = getattr(cls, match.group("method"), None) if cls is not None else None
        if not callable(method):
            wrong.append("{} -> {}".format(operation, entry))
            continue
        route = match.group("route")
        if route is not None and "route" not in inspect.signature(method).parameters:
            wrong.append("{} -> {} (takes no route)".format(operation, entry))
    assert not wrong, "table entries naming no method: {}".format("; ".join(wrong))


def test_share_code_routes_are_told_apart():
    # One method per prefix and verb: the two prefixes' operations don't share an entry.
    entries = [OPERATIONS[name] for name in OPERATIONS if "share_code" in name and name != "exchange_share_code"]
    assert len(entries) == len(set(entries)) == 6
