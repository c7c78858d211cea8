"""One backend worker: uvicorn serving the lab app on the listening socket it inherits.

    python -m perfbook.lab.worker pblab-1a2b-api --fd 3 --settings STATE/backend.json

Started by :mod:`perfbook.lab.backend` (two of them, the runbook's WORKERS=2), which owns the
socket and sets PROMETHEUS_MULTIPROC_DIR before this process imports prometheus_client.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
from pathlib import Path

from perfbook.lab.proctitle import set_process_name


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="perfbook.lab.worker")
    parser.add_argument("tag")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--settings", type=Path, required=True)
    args = parser.parse_args(argv)
    set_process_name(args.tag)

    import uvicorn

    from perfbook.lab.app import create_app
    from perfbook.lab.state import BackendSettings

    sock = socket.socket(fileno=args.fd)  # family and type detected from the inherited fd
    app = create_app(BackendSettings.load(args.settings))
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=3
    )
    asyncio.run(uvicorn.Server(config).serve(sockets=[sock]))


if __name__ == "__main__":
    main()
