#!/usr/bin/env python3
"""Writes tests/fixtures/test-city.mmdb: a tiny MaxMind-format City database for
the tests (203.0.113.0/24 is in San Francisco, US; 198.51.100.0/24 in Berlin, DE).

    pip install mmdb-writer && scripts/make-test-geoip.py
"""
from pathlib import Path

from mmdb_writer import MMDBWriter
from netaddr import IPSet

writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-City",
                    languages=["en"], description="agentshare test data")
writer.insert_network(IPSet(["203.0.113.0/24"]), {
    "country": {"iso_code": "US", "names": {"en": "United States"}},
    "city": {"names": {"en": "San Francisco"}},
})
writer.insert_network(IPSet(["198.51.100.0/24"]), {
    "country": {"iso_code": "DE", "names": {"en": "Germany"}},
    "city": {"names": {"en": "Berlin"}},
})
out = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "test-city.mmdb"
writer.to_db_file(str(out))
print(f"wrote {out}")
