#!/usr/bin/env python3
"""Reference WebSocket echo server built on the Python `websockets` library.

Used by wsload's interop tests as a server implementation this project did
not write.  Binds 127.0.0.1 only, echoes text and binary messages unchanged,
negotiates no compression unless --compression deflate (the library's own
permessage-deflate), lets the library answer pings, serves wss:// (with
Python's ssl module) when given --cert and --key, and exits by itself after
--max-seconds.

Contract: after binding, exactly one line ``PORT <n>`` is printed to stdout
and flushed; nothing else is ever written to stdout.  Diagnostics go to
stderr and are off unless --verbose is given (so an unread stderr pipe can
never fill up and stall the event loop).
"""

import argparse
import asyncio
import logging
import signal
import ssl
import sys

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

HOST = "127.0.0.1"


async def echo(ws):
    try:
        async for message in ws:
            # str -> text frame, bytes -> binary frame: type is preserved.
            await ws.send(message)
    except ConnectionClosed:
        pass


async def main(args):
    stop = asyncio.get_running_loop().create_future()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
        except (NotImplementedError, RuntimeError):
            pass

    async with serve(
        echo,
        HOST,
        args.port,
        compression="deflate" if args.compression == "deflate" else None,
        subprotocols=args.subprotocols or None,
        max_size=args.max_size,
        max_queue=64,
        ping_interval=args.ping_interval,  # server-initiated keepalive off by default
        ping_timeout=None if args.ping_interval is None else 20,
        close_timeout=3,
        open_timeout=10,
        backlog=1024,
        reuse_address=True,
        ssl=tls_context(args),
    ) as server:
        port = server.sockets[0].getsockname()[1]
        sys.stdout.write(f"PORT {port}\n")
        sys.stdout.flush()
        try:
            await asyncio.wait_for(stop, timeout=args.max_seconds)
        except asyncio.TimeoutError:
            pass


def tls_context(args):
    """wss:// with --cert/--key (PEM chain and key), else plain ws://."""
    if not args.cert:
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    return ctx


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=0, help="TCP port, 0 = pick a free one")
    p.add_argument("--max-seconds", type=float, default=120.0,
                   help="exit by itself after this many seconds (default 120)")
    p.add_argument("--max-size", type=int, default=16 * 1024 * 1024,
                   help="largest accepted message in bytes (default 16 MiB)")
    p.add_argument("--ping-interval", type=float, default=None,
                   help="send keepalive pings every N s (default: never)")
    p.add_argument("--subprotocols", nargs="*", default=[],
                   help="subprotocols the server supports (it picks the first the client offers)")
    p.add_argument("--compression", choices=["none", "deflate"], default="none",
                   help="offer permessage-deflate (websockets' own implementation)")
    p.add_argument("--cert", help="serve wss:// with this PEM certificate chain (needs --key)")
    p.add_argument("--key", help="the PEM private key of --cert")
    p.add_argument("--verbose", action="store_true", help="log to stderr")
    return p.parse_args()


if __name__ == "__main__":
    args = parse_args()
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO if args.verbose else logging.CRITICAL,
        format="py_echo_server: %(levelname)s %(message)s",
    )
    try:
        asyncio.run(main(args))
    except KeyboardInterrupt:
        pass
