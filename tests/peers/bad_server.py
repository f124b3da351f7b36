#!/usr/bin/env python3
"""Deliberately misbehaving WebSocket server for wsload's failure tests.

Hand-written on raw asyncio TCP streams: no WebSocket library is used.  The
opening handshake computes Sec-WebSocket-Accept by hand (SHA-1 of the key +
RFC 6455 GUID, base64) and client frames are parsed and unmasked by hand.
Server frames are sent unmasked.  Binds 127.0.0.1 only, prints exactly one
line ``PORT <n>`` to stdout after binding, and exits by itself after
--max-seconds.

Modes:
  echo       correct echo (baseline)
  drop       echo, but silently drop every K-th data message of a connection
  corrupt    echo, but flip bit 0 of the last payload byte of every K-th
             message (empty payloads are echoed unchanged).  Flipping bit 0
             of the last byte keeps text messages valid UTF-8.
  duplicate  echo, but send every K-th message twice
  refuse     answer the upgrade with "HTTP/1.1 403 Forbidden" and close
  garbage    upgrade, then send an invalid frame (RSV bits set, reserved
             opcode 0x3: bytes F3 05 ...) and keep the connection open
  huge       upgrade, then send a binary frame header announcing a 2^62-byte
             payload (82 7F 40 00 00 00 00 00 00 00), a few bytes, keep open
  silent     upgrade, then never send anything (no echo, no pong, no close)
  greet      upgrade with two pings in the same write as the 101 response, then echo;
             closes with 1002 if the pongs do not carry the pings' payloads
  limit      echo for the first --limit connections accepted; every later connection
             is accepted and reset at once (SO_LINGER 0 close: an RST, no handshake),
             like a server that hit its connection or open-files limit

"K-th" counts complete data messages (after reassembly of fragments), per
connection, starting at 1: with K=10 messages 10, 20, 30, ... are affected.
In the echo-like modes (echo, drop, corrupt, duplicate) fragmented messages
are reassembled and echoed as one frame, pings are answered with pongs, and
a client close frame is answered with a close frame echoing its status code.
"""

import argparse
import asyncio
import os
import base64
import hashlib
import signal
import socket
import struct
import sys

HOST = "127.0.0.1"
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MODES = ("echo", "drop", "corrupt", "duplicate", "refuse", "garbage", "huge", "silent", "greet", "leak", "limit")
ECHO_MODES = ("echo", "drop", "corrupt", "duplicate", "greet", "leak", "limit")
# leak: echoes correctly, but keeps a duplicate of every connection's socket open after it
# ends, so its open files never come back down (a descriptor leak).
LEAKED = []
# limit: connections accepted so far (the first --limit are served, later ones reset).
ACCEPTED = 0
# greet: two pings travel in the same write as the 101 response; the pongs must match.
GREET_PINGS = (b"a", b"bc")

OP_CONT, OP_TEXT, OP_BIN, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

ARGS = None


def log(msg):
    if ARGS is not None and ARGS.verbose:
        sys.stderr.write(f"bad_server[{ARGS.mode}]: {msg}\n")
        sys.stderr.flush()


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + GUID).digest()).decode("ascii")


def encode_frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    """Unmasked server frame."""
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", b0, n)
    elif n < 65536:
        header = struct.pack("!BBH", b0, 126, n)
    else:
        header = struct.pack("!BBQ", b0, 127, n)
    return header + payload


class ProtocolError(Exception):
    def __init__(self, code, reason):
        super().__init__(reason)
        self.code = code
        self.reason = reason


def unmask(payload: bytes, mask: bytes) -> bytes:
    n = len(payload)
    if n == 0:
        return payload
    # XOR via big integers: fast enough for multi-MiB payloads.
    reps = (n + 3) // 4
    key = int.from_bytes((mask * reps)[:n], "big")
    return (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big")


async def read_frame(reader: asyncio.StreamReader, max_size: int):
    """Return (fin, opcode, payload) of one masked client frame."""
    b0, b1 = await reader.readexactly(2)
    fin = bool(b0 & 0x80)
    rsv = b0 & 0x70
    opcode = b0 & 0x0F
    masked = bool(b1 & 0x80)
    n = b1 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", await reader.readexactly(2))
    elif n == 127:
        (n,) = struct.unpack("!Q", await reader.readexactly(8))
        if n >> 63:
            raise ProtocolError(1002, "64-bit length with MSB set")
    if rsv:
        raise ProtocolError(1002, "reserved bits set")
    if opcode not in (OP_CONT, OP_TEXT, OP_BIN, OP_CLOSE, OP_PING, OP_PONG):
        raise ProtocolError(1002, f"reserved opcode {opcode:#x}")
    if not masked:
        raise ProtocolError(1002, "client frame not masked")
    if opcode >= 0x8 and (n > 125 or not fin):
        raise ProtocolError(1002, "bad control frame")
    if n > max_size:
        raise ProtocolError(1009, "frame too big")
    mask = await reader.readexactly(4)
    payload = await reader.readexactly(n)
    return fin, opcode, unmask(payload, mask)


async def read_request(reader: asyncio.StreamReader):
    """Read the HTTP upgrade request; return a dict of lower-cased headers."""
    raw = await reader.readuntil(b"\r\n\r\n")
    lines = raw.decode("latin-1").split("\r\n")
    request_line = lines[0]
    headers = {}
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return request_line, headers


async def send_bad_request(writer, why: str):
    body = f"bad websocket upgrade request: {why}\n".encode()
    writer.write(
        b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
        + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    await writer.drain()


async def handshake(reader, writer) -> bool:
    request_line, headers = await read_request(reader)
    if ARGS.mode == "refuse":
        body = b"wsload bad_server: upgrade refused on purpose\n"
        writer.write(
            b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n"
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        return False
    key = headers.get("sec-websocket-key")
    if not request_line.startswith("GET ") or "websocket" not in headers.get("upgrade", "").lower():
        await send_bad_request(writer, "not a GET websocket upgrade")
        return False
    if not key:
        await send_bad_request(writer, "missing Sec-WebSocket-Key")
        return False
    writer.write(
        (
            "HTTP/1.1 101 Switching Protocols\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept_key(key)}\r\n"
            "\r\n"
        ).encode("ascii")
        + (b"".join(encode_frame(OP_PING, p) for p in GREET_PINGS) if ARGS.mode == "greet" else b"")
    )
    await writer.drain()
    return True


async def discard_until_eof(reader, seconds):
    """Read and throw away whatever the client sends, until EOF or timeout."""
    async def drain_input():
        while await reader.read(65536):
            pass
    try:
        await asyncio.wait_for(drain_input(), timeout=seconds)
    except asyncio.TimeoutError:
        pass


async def send_close(writer, code: int, reason: str = ""):
    payload = struct.pack("!H", code) + reason.encode()[:120]
    writer.write(encode_frame(OP_CLOSE, payload))
    await writer.drain()


async def echo_loop(reader, writer):
    mode = ARGS.mode
    every = ARGS.every
    count = 0
    frag_op = None
    frags = []
    frag_len = 0
    expected_pongs = list(GREET_PINGS) if mode == "greet" else []
    while True:
        try:
            fin, opcode, payload = await read_frame(reader, ARGS.max_size)
        except ProtocolError as e:
            log(f"protocol error: {e.reason}")
            await send_close(writer, e.code, e.reason)
            return
        if opcode == OP_PING:
            writer.write(encode_frame(OP_PONG, payload))
            await writer.drain()
            continue
        if opcode == OP_PONG:
            if expected_pongs:
                want = expected_pongs.pop(0)
                if payload != want:
                    log(f"pong {payload!r} does not answer ping {want!r}")
                    await send_close(writer, 1002, "pong does not match ping")
                    return
            continue
        if opcode == OP_CLOSE:
            if len(payload) == 1:
                await send_close(writer, 1002, "1-byte close payload")
            else:
                # Echo the status code (no reason) or an empty close.
                writer.write(encode_frame(OP_CLOSE, payload[:2]))
                await writer.drain()
            return
        # Data frame.
        if opcode == OP_CONT:
            if frag_op is None:
                await send_close(writer, 1002, "unexpected continuation")
                return
        else:
            if frag_op is not None:
                await send_close(writer, 1002, "expected continuation")
                return
            frag_op = opcode
        frags.append(payload)
        frag_len += len(payload)
        if frag_len > ARGS.max_size:
            await send_close(writer, 1009, "message too big")
            return
        if not fin:
            continue
        op, data = frag_op, b"".join(frags)
        frag_op, frags, frag_len = None, [], 0
        if op == OP_TEXT:
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                await send_close(writer, 1007, "invalid utf-8")
                return
        count += 1
        hit = count % every == 0
        if mode == "drop" and hit:
            log(f"dropping message #{count} ({len(data)} bytes)")
            continue
        if mode == "corrupt" and hit and data:
            log(f"corrupting message #{count} ({len(data)} bytes)")
            data = data[:-1] + bytes([data[-1] ^ 0x01])
        frame = encode_frame(op, data)
        writer.write(frame)
        if mode == "duplicate" and hit:
            log(f"duplicating message #{count} ({len(data)} bytes)")
            writer.write(frame)
        await writer.drain()


def reset_now(writer):
    """Close with SO_LINGER 0: the kernel sends an RST instead of a FIN."""
    try:
        writer.get_extra_info("socket").setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    writer.transport.abort()


async def handle(reader, writer):
    global ACCEPTED
    ACCEPTED += 1
    if ARGS.mode == "limit" and ACCEPTED > ARGS.limit:
        log(f"connection #{ACCEPTED} over the limit of {ARGS.limit}: reset")
        reset_now(writer)
        return
    try:
        if not await handshake(reader, writer):
            return
        mode = ARGS.mode
        if mode in ECHO_MODES:
            await echo_loop(reader, writer)
        elif mode == "garbage":
            # FIN+RSV1+RSV2+RSV3 set, reserved opcode 0x3, 5-byte payload.
            writer.write(b"\xF3\x05" + b"junk!")
            await writer.drain()
            await discard_until_eof(reader, ARGS.hold_seconds)
        elif mode == "huge":
            # FIN, binary, 64-bit length = 2^62, then a few payload bytes.
            writer.write(b"\x82\x7F" + struct.pack("!Q", 1 << 62) + b"abcdefgh")
            await writer.drain()
            await discard_until_eof(reader, ARGS.hold_seconds)
        elif mode == "silent":
            await discard_until_eof(reader, ARGS.hold_seconds)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        pass
    except asyncio.CancelledError:
        # Shutdown at --max-seconds: end quietly (re-raising makes Python 3.11's
        # stream callback print a spurious traceback to stderr).
        pass
    except Exception as e:  # keep serving other connections
        log(f"handler error: {e!r}")
    finally:
        if ARGS.mode == "leak":
            try:
                LEAKED.append(os.dup(writer.get_extra_info("socket").fileno()))
            except Exception:
                pass
        try:
            writer.close()
        except Exception:
            pass


async def main():
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
        except (NotImplementedError, RuntimeError):
            pass
    server = await asyncio.start_server(
        handle, HOST, ARGS.port, backlog=1024, reuse_address=True, limit=64 * 1024
    )
    port = server.sockets[0].getsockname()[1]
    sys.stdout.write(f"PORT {port}\n")
    sys.stdout.flush()
    try:
        await asyncio.wait_for(stop, timeout=ARGS.max_seconds)
    except asyncio.TimeoutError:
        pass
    server.close()


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mode", choices=MODES, required=True)
    p.add_argument("--port", type=int, default=0, help="TCP port, 0 = pick a free one")
    p.add_argument("--max-seconds", type=float, default=120.0,
                   help="exit by itself after this many seconds (default 120)")
    p.add_argument("--every", type=int, default=10,
                   help="K for drop/corrupt/duplicate: affect every K-th message (default 10)")
    p.add_argument("--hold-seconds", type=float, default=60.0,
                   help="garbage/huge/silent: keep a connection open at most this long "
                        "unless the client closes it first (default 60)")
    p.add_argument("--max-size", type=int, default=64 * 1024 * 1024,
                   help="largest accepted message in echo modes (default 64 MiB)")
    p.add_argument("--limit", type=int, default=100,
                   help="limit: connections served before every later one is reset (default 100)")
    p.add_argument("--verbose", action="store_true", help="log misbehaviour to stderr")
    a = p.parse_args()
    if a.every < 1:
        p.error("--every must be >= 1")
    if a.limit < 0:
        p.error("--limit must be >= 0")
    return a


if __name__ == "__main__":
    ARGS = parse_args()
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
