#!/usr/bin/env python3
"""A request/reply WebSocket server built on the Python `websockets` library,
for wsload's templated-message tests: it answers JSON requests that carry an
`id` with `{"id": <id>, "result": "ok"}`, and answers every 4th id late
(--slow-ms), so replies overtake each other and arrive out of order.  Requests
without an id (such as a first `hello`) get `{"type": "ack"}`.

It records what it saw, as JSON lines in --record FILE: one
`{"headers": {...}}` line per connection (the upgrade request's headers) and
one `{"message": "..."}` line for each of the first --record-messages
messages.  Binds 127.0.0.1 only and exits by itself after --max-seconds.

Contract: after binding, exactly one line ``PORT <n>`` is printed to stdout.
"""

import argparse
import asyncio
import json
import signal
import sys

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

HOST = "127.0.0.1"


def main_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--max-seconds", type=float, default=60.0)
    p.add_argument("--slow-ms", type=float, default=60.0, help="delay for every 4th id")
    p.add_argument("--record", default=None, help="JSON lines: headers and messages seen")
    p.add_argument("--record-messages", type=int, default=50)
    p.add_argument("--subprotocols", nargs="*", default=[])
    return p.parse_args()


async def main(args):
    record = open(args.record, "a", buffering=1) if args.record else None
    recorded = 0

    async def handler(ws):
        nonlocal recorded
        if record:
            headers = {k: v for k, v in ws.request.headers.raw_items()}
            record.write(json.dumps({"headers": headers}) + "\n")
        tasks = set()

        async def reply(req_id, delay):
            if delay:
                await asyncio.sleep(delay)
            try:
                await ws.send(json.dumps({"id": req_id, "result": "ok"}))
            except ConnectionClosed:
                pass

        try:
            async for message in ws:
                if record and recorded < args.record_messages:
                    recorded += 1
                    record.write(json.dumps({"message": message if isinstance(message, str) else message.hex()}) + "\n")
                try:
                    req_id = json.loads(message).get("id")
                except (ValueError, AttributeError):
                    req_id = None
                if req_id is None:
                    await ws.send(json.dumps({"type": "ack"}))
                    continue
                slow = int(req_id) % 4 == 0
                t = asyncio.create_task(reply(req_id, args.slow_ms / 1000.0 if slow else 0))
                tasks.add(t)
                t.add_done_callback(tasks.discard)
        except ConnectionClosed:
            pass

    stop = asyncio.get_running_loop().create_future()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
        except (NotImplementedError, RuntimeError):
            pass
    async with serve(handler, HOST, args.port, compression=None,
                     subprotocols=args.subprotocols or None, ping_interval=None,
                     close_timeout=3, backlog=1024) as server:
        sys.stdout.write(f"PORT {server.sockets[0].getsockname()[1]}\n")
        sys.stdout.flush()
        try:
            await asyncio.wait_for(stop, timeout=args.max_seconds)
        except asyncio.TimeoutError:
            pass


if __name__ == "__main__":
    try:
        asyncio.run(main(main_args()))
    except KeyboardInterrupt:
        pass
