"""S3 (and SageMaker) for tests: moto in server mode on a free port of 127.0.0.1.

Import this module after ``pytest.importorskip("moto.server")`` so a missing moto skips the test module.
"""
from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

# What boto3/s3fs need to sign requests to moto (never real credentials).
FAKE_AWS_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}


@contextmanager
def moto_url() -> Iterator[str]:
    """A running moto server's URL, from an empty account (moto keeps its state per process, not per server);
    the server stops on exit."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST")).close()
        yield url
    finally:
        server.stop()
