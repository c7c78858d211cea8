"""A WebSocket echo server (the websockets library) in its own process, for perfbook's tests:
``python ws_echo.py`` listens on a free 127.0.0.1 port and prints ``listening PORT``."""

from __future__ import annotations

import asyncio

from websockets.asyncio.server import serve


async def echo(ws) -> None:
    async for message in ws:
        await ws.send(message)


async def main() -> None:
    async with serve(echo, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(f"listening {port}", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main())
