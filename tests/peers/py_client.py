#!/usr/bin/env python3
"""Interop client for `wsload serve`, built on the Python `websockets` library.

Checks an echo server it did not write against a client this project did not
write.  On success prints ``OK`` and exits 0; on the first mismatch prints a
line starting with ``FAIL:`` and exits 1.  Gives up after --timeout seconds
(default 60) with exit 1.

Checks:
  * binary and text echo at 0, 125, 126, 65535, 65536 and 1048576 bytes
    (random bytes; random UTF-8 text including 2-, 3- and 4-byte characters)
  * fragmented text and binary messages (sent as an iterable of fragments)
    come back as one message with the concatenated content
  * ping -> pong (pong waiter awaited with a timeout)
  * the close handshake completes with code 1000 in both directions
  * 50 concurrent connections x 20 messages, every echo checked in order
"""

import argparse
import asyncio
import os
import random
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

SIZES = (0, 125, 126, 65535, 65536, 1048576)
MULTIBYTE = "é\u00df\u03a9\u0416\u4e2d\u6587\u20ac\U0001F600\U0001F680\U00010348"
STEP_TIMEOUT = 15.0


class CheckFailed(Exception):
    pass


def fail(msg):
    raise CheckFailed(msg)


def random_text(nbytes: int, rng: random.Random) -> str:
    """Random str whose UTF-8 encoding is exactly nbytes long."""
    parts = []
    used = 0
    while used < nbytes:
        room = nbytes - used
        if rng.random() < 0.3:
            ch = rng.choice(MULTIBYTE)
            if len(ch.encode()) > room:
                ch = chr(rng.randint(0x20, 0x7E))
        else:
            ch = chr(rng.randint(0x20, 0x7E))
        parts.append(ch)
        used += len(ch.encode())
    s = "".join(parts)
    assert len(s.encode()) == nbytes
    return s


def describe(x) -> str:
    kind = "text" if isinstance(x, str) else "binary" if isinstance(x, bytes) else type(x).__name__
    n = len(x.encode()) if isinstance(x, str) else len(x) if isinstance(x, bytes) else "?"
    return f"{kind} {n} bytes"


def first_diff(a, b) -> str:
    if type(a) is not type(b):
        return f"type differs: sent {describe(a)}, got {describe(b)}"
    if len(a) != len(b):
        return f"length differs: sent {describe(a)}, got {describe(b)}"
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return f"content differs at index {i} ({describe(a)})"
    return "equal"


def client(url, **kw):
    return connect(
        url,
        compression=None,          # no permessage-deflate
        max_size=16 * 1024 * 1024,
        ping_interval=None,        # no unsolicited keepalive pings
        close_timeout=5,
        open_timeout=10,
        proxy=None,
        **kw,
    )


async def expect_echo(ws, sent, what):
    try:
        got = await asyncio.wait_for(ws.recv(), STEP_TIMEOUT)
    except asyncio.TimeoutError:
        fail(f"{what}: no echo within {STEP_TIMEOUT}s")
    except ConnectionClosed as e:
        fail(f"{what}: connection closed while waiting for echo: {e}")
    if got != sent or type(got) is not type(sent):
        fail(f"{what}: echo mismatch: {first_diff(sent, got)}")


async def check_sizes(url, rng):
    async with client(url) as ws:
        if ws.response is not None:
            ext = ws.response.headers.get("Sec-WebSocket-Extensions")
            if ext:
                fail(f"server negotiated extensions although none were offered: {ext}")
        for n in SIZES:
            data = rng.randbytes(n)
            await ws.send(data)
            await expect_echo(ws, data, f"binary echo of {n} bytes")
            text = random_text(n, rng)
            await ws.send(text)
            await expect_echo(ws, text, f"text echo of {n} bytes")
    print(f"  sizes ok: {', '.join(map(str, SIZES))} (binary + text)", flush=True)


async def check_fragmented(url, rng):
    async with client(url) as ws:
        bin_frags = [rng.randbytes(n) for n in (1000, 0, 70000, 1, 125, 126)]
        await ws.send(bin_frags)
        await expect_echo(ws, b"".join(bin_frags), "fragmented binary message (6 fragments)")
        txt_frags = [random_text(n, rng) for n in (10, 300, 0, 70000, 5)]
        await ws.send(txt_frags)
        await expect_echo(ws, "".join(txt_frags), "fragmented text message (5 fragments)")
        # Fragments from a generator (not a list) work too.
        await ws.send(iter([b"a", b"b", b"c"]))
        await expect_echo(ws, b"abc", "fragmented binary message (generator)")
    print("  fragmented messages ok", flush=True)


async def check_ping(url, rng):
    async with client(url) as ws:
        for payload in (b"", b"wsload-ping", rng.randbytes(125)):
            pong_waiter = await ws.ping(payload)
            try:
                await asyncio.wait_for(pong_waiter, 5)
            except asyncio.TimeoutError:
                fail(f"no pong for ping with {len(payload)}-byte payload within 5s")
            except ConnectionClosed as e:
                fail(f"connection closed while waiting for pong: {e}")
        # Still usable after pings.
        await ws.send(b"after-ping")
        await expect_echo(ws, b"after-ping", "echo after ping")
    print("  ping/pong ok", flush=True)


async def check_close(url):
    ws = await client(url)
    await ws.send("bye")
    await expect_echo(ws, "bye", "echo before close")
    await asyncio.wait_for(ws.close(code=1000, reason="done"), STEP_TIMEOUT)
    proto = ws.protocol
    if proto.close_sent is None or proto.close_sent.code != 1000:
        fail(f"client did not send close 1000: {proto.close_sent}")
    if proto.close_rcvd is None:
        fail("close handshake incomplete: server never sent a close frame "
             f"(close_code={ws.close_code})")
    if proto.close_rcvd.code != 1000:
        fail(f"server answered close with code {proto.close_rcvd.code}, expected 1000")
    if ws.close_code != 1000:
        fail(f"close_code is {ws.close_code}, expected 1000")
    print("  close handshake ok (1000)", flush=True)


async def one_conn(url, idx, n_msgs, seed):
    rng = random.Random(seed)
    async with client(url) as ws:
        sent = []
        # First half: request/response; second half: pipelined burst.
        half = n_msgs // 2
        for i in range(half):
            m = rng.randbytes(rng.randint(0, 4096)) if i % 2 else random_text(rng.randint(0, 4096), rng)
            await ws.send(m)
            await expect_echo(ws, m, f"conn {idx} msg {i}")
        for i in range(half, n_msgs):
            m = rng.randbytes(rng.randint(0, 4096)) if i % 2 else random_text(rng.randint(0, 4096), rng)
            sent.append((i, m))
            await ws.send(m)
        for i, m in sent:
            await expect_echo(ws, m, f"conn {idx} msg {i} (pipelined)")
        await ws.close()
        if ws.close_code != 1000:
            fail(f"conn {idx}: close code {ws.close_code}, expected 1000")


async def check_concurrent(url, seed, conns=50, msgs=20):
    tasks = [asyncio.create_task(one_conn(url, i, msgs, seed * 1000 + i)) for i in range(conns)]
    try:
        await asyncio.gather(*tasks)
    finally:
        for t in tasks:
            t.cancel()
    print(f"  concurrent ok: {conns} connections x {msgs} messages", flush=True)


async def run(url, seed):
    rng = random.Random(seed)
    await check_sizes(url, rng)
    await check_fragmented(url, rng)
    await check_ping(url, rng)
    await check_close(url)
    await check_concurrent(url, seed)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True, help="ws://127.0.0.1:PORT/")
    p.add_argument("--timeout", type=float, default=60.0, help="overall timeout in seconds")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    args = p.parse_args()
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big")
    print(f"py_client: url={args.url} seed={seed}", flush=True)

    async def guarded():
        await asyncio.wait_for(run(args.url, seed), args.timeout)

    try:
        asyncio.run(guarded())
    except CheckFailed as e:
        print(f"FAIL: {e}", flush=True)
        sys.exit(1)
    except asyncio.TimeoutError:
        print(f"FAIL: overall timeout of {args.timeout}s exceeded", flush=True)
        sys.exit(1)
    except InvalidHandshake as e:
        print(f"FAIL: opening handshake failed: {e}", flush=True)
        sys.exit(1)
    except (OSError, ConnectionClosed) as e:
        print(f"FAIL: connection error: {e!r}", flush=True)
        sys.exit(1)
    except Exception as e:
        print(f"FAIL: unexpected error: {e!r}", flush=True)
        sys.exit(1)
    print("OK", flush=True)


if __name__ == "__main__":
    main()
