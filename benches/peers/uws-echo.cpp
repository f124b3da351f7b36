// uws-echo: the common reference server of scripts/bench.sh (its REF_SERVER), a minimal
// WebSocket echo server on uWebSockets' public API, so that wsload, tcpkali and the floor
// client are measured against a server that is not wsload's own.
//
//   uws-echo PORT    listens on 127.0.0.1:PORT only and echoes every message with its opcode
//
// It prints "listening on 127.0.0.1:PORT" (flushed) once it accepts connections, and exits 1
// with a message if it cannot listen (also when the port is taken, even by another uws-echo).
// Compression is off, there is no idle timeout and no automatic ping, and up to 64 MiB may wait
// to be sent per connection (past that uWebSockets drops echoes rather than closing the
// connection).
//
// Built, with uWebSockets and uSockets from their public sources (no SSL, no zlib, no libuv),
// by scripts/peers.sh, which prints the REF_SERVER=... to export.
#include "App.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string_view>

namespace {

struct PerSocketData {};

int parse_port(const char *s) {
    char *end = nullptr;
    errno = 0;
    long port = std::strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || port <= 0 || port > 65535) {
        return -1;
    }
    return static_cast<int>(port);
}

} // namespace

int main(int argc, char **argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s PORT\n", argc > 0 ? argv[0] : "uws-echo");
        return 1;
    }
    const int port = parse_port(argv[1]);
    if (port < 0) {
        std::fprintf(stderr, "uws-echo: invalid port: %s\n", argv[1]);
        return 1;
    }

    uWS::App()
        .ws<PerSocketData>("/*", {
            .compression = uWS::DISABLED,
            .maxPayloadLength = 16 * 1024 * 1024,
            .idleTimeout = 0, // 0: no idle timeout
            .maxBackpressure = 64 * 1024 * 1024,
            .closeOnBackpressureLimit = false,
            .resetIdleTimeoutOnSend = false,
            .sendPingsAutomatically = false,
            .message = [](auto *ws, std::string_view message, uWS::OpCode opCode) {
                ws->send(message, opCode);
            },
        })
        // exclusive: without it uSockets sets SO_REUSEPORT, and a second server on the same
        // port would "listen" too and silently take a share of the connections
        .listen("127.0.0.1", port, LIBUS_LISTEN_EXCLUSIVE_PORT, [port](auto *listenSocket) {
            if (listenSocket) {
                std::cout << "listening on 127.0.0.1:" << port << std::endl; // endl flushes
            } else {
                std::cerr << "uws-echo: cannot listen on 127.0.0.1:" << port << std::endl;
                std::exit(1);
            }
        })
        .run();
    return 0;
}
