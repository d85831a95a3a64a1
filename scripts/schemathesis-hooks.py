"""Schemathesis hooks of scripts/schemathesis.

The server under test trusts the loopback address as a proxy (`--trusted-proxy
127.0.0.1/32`), and every request to a viewer route (`/s/…`) comes, by its
`X-Forwarded-For`, from one of a few dozen clients. Each client has its own budget
of lookups of links that do not exist, so the logic behind the viewer routes gets
tested, and the limit (429 `RATE_LIMITED`) is still reached now and then.
"""

import random

import schemathesis

# Documentation addresses (TEST-NET-2): never anyone's real address.
CLIENTS = [f"198.51.100.{n}" for n in range(1, 33)]
# Hypothesis reseeds the global generator for every test case; this one is ours.
CHOOSER = random.SystemRandom()


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.path.startswith("/s/"):
        case.headers = {**(case.headers or {}), "X-Forwarded-For": CHOOSER.choice(CLIENTS)}
