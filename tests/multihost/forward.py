"""A TCP forwarder: makes services that listen on 127.0.0.1 reachable at another address
(the multi-host tests' services host), as a database server's network port would be.

    python -m tests.multihost.forward LISTEN_HOST:PORT=TARGET_HOST:PORT [...]

Prints ``forwarding`` once every listener is bound; runs until SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


def _handler(target_host: str, target_port: int):  # type: ignore[no-untyped-def]
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                target_host, target_port
            )
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))

    return handle


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


async def main(mappings: list[str]) -> None:
    servers = []
    for mapping in mappings:
        listen, _, target = mapping.partition("=")
        listen_host, listen_port = _address(listen)
        servers.append(
            await asyncio.start_server(
                _handler(*_address(target)), listen_host, listen_port, reuse_address=True
            )
        )
    print("forwarding", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    for server in servers:
        server.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
