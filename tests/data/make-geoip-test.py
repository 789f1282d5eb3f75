#!/usr/bin/env python3
"""Writes the small MaxMind DB that qxfer's GeoIP tests read (src/geoip.rs).

Usage, from the repository's root:

    python3 tests/data/make-geoip-test.py              # writes tests/data/geoip-test.mmdb
    python3 tests/data/make-geoip-test.py OUT.mmdb     # writes it elsewhere
    python3 tests/data/make-geoip-test.py --second OUT.mmdb

The default database is committed; run the script again only when changing it. Its output
is the same byte for byte on every run (a fixed build_epoch, networks and keys in a fixed
order). `--second` writes the other database the merge tests open before the default one:
records with only some fields, a registered_country, and values the reader must refuse.
Python 3 standard library only. The format: https://maxmind.github.io/MaxMind-DB/

Layout, as MaxMind's own databases: ip_version 6, 24-bit records, IPv4 addresses under
::0.0.0.0/96. One consequence: ::1/128 is the same leaf as 0.0.0.1/32, so an IPv4 lookup of
0.0.0.1 finds the ::1 record (true of any database with this layout).
"""

import ipaddress
import sys
from pathlib import Path

RECORD_SIZE = 24
BUILD_EPOCH = 1767225600  # 2026-01-01T00:00:00Z: fixed, so the output is reproducible
METADATA_MARKER = b"\xab\xcd\xefMaxMind.com"


def record(iso, asn):
    return {
        "autonomous_system_number": asn,
        "autonomous_system_organization": "Test",
        "country": {"iso_code": iso},
    }


# Documentation and loopback ranges only; none contains another.
DEFAULT = [
    ("192.0.2.0/24", record("ES", 64500)),
    ("198.51.100.0/24", record("GB", 64501)),
    ("203.0.113.0/24", record("ES", 64500)),  # another network of the first one's ISP
    ("127.0.0.0/8", record("ES", 64500)),  # so tests over loopback get a place
    ("2001:db8::/32", record("DE", 64502)),
    ("::1/128", record("ES", 64500)),
]

# Opened first in the merge tests, the default database second.
SECOND = [
    # Country only: FR wins, the ASN comes from the default database (64500).
    ("192.0.2.0/24", {"country": {"iso_code": "FR", "names": {"en": "France"}}}),
    # ASN only: 64999 wins, the country comes from the default database (GB).
    ("198.51.100.0/24", {"autonomous_system_number": 64999}),
    # A lower-case code and ASN 0 (reserved) are refused: ES and 64500 from the default.
    ("203.0.113.0/24", {"country": {"iso_code": "es"}, "autonomous_system_number": 0}),
    # No country, a registered_country: NL wins over the default's DE.
    ("2001:db8::/32", {"registered_country": {"iso_code": "NL"}}),
    # A country without a code hides registered_country (the reader looks there only when
    # country is absent): the country comes from the default (ES); so does the ASN.
    ("127.0.0.0/8", {"country": {}, "registered_country": {"iso_code": "IT"}}),
    # A three-letter code and an ASN of the wrong type: nothing here, ES 64500 from default.
    ("::1/128", {"country": {"iso_code": "ESP"}, "autonomous_system_number": "64500"}),
]


# --- data section encoding (spec: "Output Data Section") ---------------------------------

TYPE_POINTER, TYPE_STRING, TYPE_MAP = 1, 2, 7
TYPE_UINT16, TYPE_UINT32 = 5, 6
TYPE_UINT64, TYPE_ARRAY = 9, 11


def control(type_num, size):
    """The control byte(s) for a value of this type and payload size."""
    if size < 29:
        size_bits, extra = size, b""
    elif size < 285:
        size_bits, extra = 29, bytes([size - 29])
    elif size < 65821:
        size_bits, extra = 30, (size - 285).to_bytes(2, "big")
    else:
        size_bits, extra = 31, (size - 65821).to_bytes(3, "big")
    if type_num <= 7:
        return bytes([(type_num << 5) | size_bits]) + extra
    return bytes([size_bits, type_num - 7]) + extra


def uint(type_num, value, max_bytes):
    payload = value.to_bytes((value.bit_length() + 7) // 8, "big")
    assert len(payload) <= max_bytes, value
    return control(type_num, len(payload)) + payload


def encode(value):
    """MaxMind DB encoding of a Python value; ints are uint32, typed ints are tuples."""
    if isinstance(value, tuple):
        kind, number = value
        return {
            "uint16": lambda n: uint(TYPE_UINT16, n, 2),
            "uint32": lambda n: uint(TYPE_UINT32, n, 4),
            "uint64": lambda n: uint(TYPE_UINT64, n, 8),
        }[kind](number)
    if isinstance(value, bool):
        raise TypeError("booleans are not used here")
    if isinstance(value, int):
        return uint(TYPE_UINT32, value, 4)
    if isinstance(value, str):
        raw = value.encode("utf-8")
        return control(TYPE_STRING, len(raw)) + raw
    if isinstance(value, dict):
        out = control(TYPE_MAP, len(value))
        for key in sorted(value):
            out += encode(key) + encode(value[key])
        return out
    if isinstance(value, list):
        return control(TYPE_ARRAY, len(value)) + b"".join(encode(v) for v in value)
    raise TypeError(f"cannot encode {value!r}")


# --- search tree (spec: "Binary Search Tree Section") ------------------------------------


def prefix_bits(cidr):
    """The network as a 128-bit prefix: IPv4 under ::0.0.0.0/96, as MaxMind lays it out."""
    net = ipaddress.ip_network(cidr)
    if net.version == 4:
        return int(net.network_address), 96 + net.prefixlen
    return int(net.network_address), net.prefixlen


class Node:
    def __init__(self):
        self.children = [None, None]  # None (no record), a Node, or ("data", index)


def build_tree(networks):
    root = Node()
    for index, (cidr, _) in enumerate(networks):
        address, length = prefix_bits(cidr)
        node = root
        for depth in range(length):
            bit = (address >> (127 - depth)) & 1
            last = depth == length - 1
            child = node.children[bit]
            if last:
                assert child is None, f"{cidr} overlaps another network"
                node.children[bit] = ("data", index)
            else:
                if child is None:
                    child = node.children[bit] = Node()
                assert isinstance(child, Node), f"{cidr} lies inside another network"
                node = child
    # Breadth-first numbering, root first (readers start at node 0).
    order, queue = [], [root]
    while queue:
        node = queue.pop(0)
        order.append(node)
        queue.extend(c for c in node.children if isinstance(c, Node))
    return order


def build(networks, description):
    # Each distinct record once; networks with the same record share it.
    data, offsets, record_offset = b"", {}, []
    for _, value in networks:
        encoded = encode(value)
        if encoded not in offsets:
            offsets[encoded] = len(data)
            data += encoded
        record_offset.append(offsets[encoded])

    nodes = build_tree(networks)
    node_count = len(nodes)
    number = {id(node): i for i, node in enumerate(nodes)}

    def record_value(child):
        if child is None:
            return node_count  # "no data"
        if isinstance(child, Node):
            return number[id(child)]
        return node_count + 16 + record_offset[child[1]]

    tree = b""
    for node in nodes:
        for child in node.children:
            value = record_value(child)
            assert value < 1 << RECORD_SIZE
            tree += value.to_bytes(3, "big")

    metadata = {
        "binary_format_major_version": ("uint16", 2),
        "binary_format_minor_version": ("uint16", 0),
        "build_epoch": ("uint64", BUILD_EPOCH),
        "database_type": "qxfer-test",
        "description": {"en": description},
        "ip_version": ("uint16", 6),
        "languages": [],
        "node_count": ("uint32", node_count),
        "record_size": ("uint16", RECORD_SIZE),
    }
    return tree + bytes(16) + data + METADATA_MARKER + encode(metadata), node_count


def main(argv):
    args = argv[1:]
    networks, description = DEFAULT, "qxfer's GeoIP test database (documentation ranges)"
    if args[:1] == ["--second"]:
        args = args[1:]
        networks = SECOND
        description = "qxfer's second GeoIP test database (partial and refused fields)"
    if len(args) > 1 or any(a.startswith("-") for a in args):
        sys.exit(__doc__)
    default_out = Path(__file__).resolve().parent / "geoip-test.mmdb"
    out = Path(args[0]) if args else default_out

    blob, node_count = build(networks, description)
    out.write_bytes(blob)
    print(f"wrote {out}: {len(blob)} bytes, {node_count} nodes, record_size {RECORD_SIZE}")
    for cidr, value in networks:
        print(f"  {cidr:<16} {value}")


if __name__ == "__main__":
    main(sys.argv)
