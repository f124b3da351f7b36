//! Golden table of scenario errors: each bad document and the exact message a user sees.
//! Every message names the file position and field, what was expected and what was found.

use wsload::config::scenario::parse::{parse, Override};

/// (document, expected error)
const CASES: &[(&str, &str)] = &[
    // The network-fault proxy.
    (
        "[proxy]\n",
        "bad.toml:1:1: proxy.toxics: missing; add at least one [[proxy.toxics]] table, e.g. kind = \"latency\", delay = \"50ms\"",
    ),
    (
        "[proxy]\n[[proxy.toxics]]\nkind = \"latancy\"\ndelay = \"5ms\"\n",
        "bad.toml:3:8: proxy.toxics[0].kind: unknown toxic kind `latancy`; did you mean `latency`?",
    ),
    (
        "[proxy]\n[[proxy.toxics]]\nkind = \"latency\"\ndelay = \"-5ms\"\n",
        "bad.toml:4:9: proxy.toxics[0].delay: `-5ms`: latency cannot be negative",
    ),
    (
        "[proxy]\n[[proxy.toxics]]\nkind = \"latency\"\ndelya = \"5ms\"\n",
        "bad.toml:4:1: proxy.toxics[0].delya: unknown field `delya`; did you mean `delay`?",
    ),
    (
        "[proxy]\n[[proxy.toxics]]\nkind = \"latency\"\n",
        "bad.toml:2:1: proxy.toxics[0].delay: missing; the latency toxic needs delay (e.g. 50ms)",
    ),
    (
        "[proxy]\n[[proxy.toxics]]\nkind = \"reset\"\nrate = \"1/s\"\nafter = 100\n",
        "bad.toml:5:9: proxy.toxics[0].after: give either rate (per connection per second) or after (bytes), not both",
    ),
    (
        "[proxy]\n[[proxy.toxics]]\nkind = \"latency\"\ndelay = \"5ms\"\nat = \"20s\"\n",
        "bad.toml:5:6: proxy.toxics[0].at: starts at 20s, at or after the end of traffic (10s, the end of the last phase); toxics must start while traffic runs",
    ),
    (
        "[proxy]\n[[proxy.toxics]]\nkind = \"corrupt\"\nprobability = 1.5\n",
        "bad.toml:4:15: proxy.toxics[0].probability: `1.5` is not a probability above 0 and at most 1 such as 0.01",
    ),
    (
        "[proxy]\n[[proxy.toxics]]\nkind = \"down\"\ndirection = \"upstream\"\n",
        "bad.toml:4:13: proxy.toxics[0].direction: the down toxic refuses whole connections; it has no direction",
    ),
    // Wrong types.
    (
        "connections = \"10k\"",
        "bad.toml:1:15: connections: expected an integer of 1 or more, found a string (\"10k\")",
    ),
    (
        "connections = 1.5",
        "bad.toml:1:15: connections: expected an integer of 1 or more, found a float (1.5)",
    ),
    (
        "drain = true",
        "bad.toml:1:9: drain: expected a duration such as \"10s\", found a boolean (true)",
    ),
    (
        "name = 5",
        "bad.toml:1:8: name: expected a name in quotes such as \"peak-10k\", found an integer (5)",
    ),
    // Durations.
    (
        "duration = \"-5s\"",
        "bad.toml:1:12: duration: expected a duration such as \"10s\" (durations cannot be negative), found \"-5s\"",
    ),
    (
        "connect_timeout = -5",
        "bad.toml:1:19: connect_timeout: expected a duration such as \"10s\" (durations cannot be negative), found -5",
    ),
    (
        "duration = \"0s\"",
        "bad.toml:1:12: duration: expected a duration above 0 such as \"10s\", found \"0s\"",
    ),
    (
        "duration = \"10x\"",
        "bad.toml:1:12: duration: `10x`: unknown time unit `x` (use ns, us, ms, s, m or h)",
    ),
    // Phases.
    (
        "[[phases]]\nkind = \"sustained\"\nduration = \"10s\"\nrate = 0\n",
        "bad.toml:4:8: phases[0].rate: expected a rate above 0 such as \"5/s\" (use kind = \"idle\" for no traffic), found 0",
    ),
    (
        "[[phases]]\nduration = \"10s\"\nrate = 1\n",
        "bad.toml:1:1: phases[0].kind: missing; add kind = \"sustained\" (one of: sustained, burst, ramp, idle, in-flight)",
    ),
    (
        "[[phases]]\nkind = \"sustaned\"\nduration = \"10s\"\n",
        "bad.toml:2:8: phases[0].kind: unknown phase kind `sustaned`; did you mean `sustained`?",
    ),
    (
        "[[phases]]\nname = \"warm\"\nkind = \"idle\"\nduration = \"30s\"\n\n[[phases]]\nkind = \"idle\"\nat = \"20s\"\nduration = \"5s\"\n",
        "bad.toml:8:6: phases[1].at: starts at 20s, which overlaps phase `warm` which runs until 30s; use at = \"30s\" or later",
    ),
    (
        "[[phases]]\nkind = \"burst\"\nduration = \"1m\"\nrate = 1\nburst_rate = 10\nburst_for = \"10s\"\nevery = \"10s\"\n",
        "bad.toml:6:13: phases[0].burst_for: expected burst_for shorter than `every` (10s), found \"10s\"",
    ),
    (
        "[[phases]]\nkind = \"burst\"\nduration = \"1m\"\nrate = 10\nburst_rate = 5\nburst_for = \"1s\"\nevery = \"10s\"\n",
        "bad.toml:5:14: phases[0].burst_rate: expected burst_rate above the base `rate` (10/s), found 5",
    ),
    (
        "[[phases]]\nkind = \"ramp\"\nduration = \"1m\"\nfrom = 5\nto = \"5/s\"\n",
        "bad.toml:5:6: phases[0].to: `from` and `to` are both 5/s; a ramp must change the rate (use kind = \"sustained\" for a constant rate)",
    ),
    (
        "[[phases]]\nkind = \"idle\"\nduration = \"1m\"\nwindow = 4\n",
        "bad.toml:4:1: phases[0].window: `window` does not apply to an idle phase; it is for kind = \"in-flight\"",
    ),
    (
        "phases = []",
        "bad.toml:1:10: phases: the list is empty; add at least one [[phases]] table, or remove `phases` for the default phase",
    ),
    (
        "rate = \"5/s\"\n\n[[phases]]\nkind = \"idle\"\nduration = \"1m\"\n",
        "bad.toml:1:1: rate: `rate` describes a single phase and cannot be combined with [[phases]]; set it inside a phase (e.g. --set phases.0.rate=5)",
    ),
    (
        "rate = 5\nin_flight = 4\n",
        "bad.toml:2:1: in_flight: `in_flight` cannot be combined with `rate`: `rate` sends on a schedule, `in_flight` keeps a window of messages outstanding; remove one of them",
    ),
    // Ramp.
    (
        "[ramp]\nkind = \"lineer\"\n",
        "bad.toml:2:8: ramp.kind: unknown ramp kind `lineer`; did you mean `linear`?",
    ),
    (
        "[ramp]\nkind = \"quadratic\"\n",
        "bad.toml:2:8: ramp.kind: unknown ramp kind `quadratic` (expected one of: burst, linear, exponential, stepped)",
    ),
    (
        "[ramp]\nkind = \"linear\"\n",
        "bad.toml:1:1: ramp.rate: missing; a linear ramp needs a rate of new connections, e.g. rate = \"1000/s\"",
    ),
    (
        "[ramp]\nkind = \"exponential\"\nstart = 10\nfactor = 1.0\nevery = \"1s\"\n",
        "bad.toml:4:10: ramp.factor: expected a number above 1 such as 2.0, found 1.0",
    ),
    (
        "[ramp]\nkind = \"linear\"\nrate = 100\nstep = 5\n",
        "bad.toml:4:1: ramp.step: `step` does not apply to a linear ramp; it is for kind = \"stepped\"",
    ),
    // Target and connection settings.
    (
        "url = \"https://example.com/\"",
        "bad.toml:1:7: url: `https://example.com/` is not a WebSocket URL: it must start with ws:// or wss://, e.g. ws://127.0.0.1:9000/",
    ),
    (
        "source_ips = [\"127.0.0.1\", \"10.0.0.300\"]",
        "bad.toml:1:28: source_ips[1]: expected an IP address such as \"127.0.0.2\" or \"::1\", found \"10.0.0.300\"",
    ),
    (
        "headers = { Upgrade = \"h2c\" }",
        "bad.toml:1:13: headers.\"Upgrade\": wsload sends `Upgrade` itself as part of the WebSocket upgrade; remove it",
    ),
    (
        "headers = { \"X Test\" = \"1\" }",
        "bad.toml:1:13: headers.\"X Test\": `X Test` is not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)",
    ),
    (
        "origin = \"https://a.test\"\nheaders = { Origin = \"https://b.test\" }",
        "bad.toml:1:1: origin: `Origin` is also set in `headers`; keep one of them",
    ),
    (
        "cookies = { \"a b\" = \"1\" }",
        "bad.toml:1:13: cookies.a b: `a b` is not a valid cookie name",
    ),
    (
        "cookies = { s = \"x;y\" }",
        "bad.toml:1:17: cookies.s: cookie values cannot contain `;` or control characters",
    ),
    // Templates, correlation, modes, compression.
    (
        "template = '{\"id\":{seq},\"t\":{tss}}'",
        "bad.toml:1:12: template: template at column 17: unknown placeholder `{tss}`; the placeholders are {conn} (connection id), {seq} (message number on its connection, from 0), {ts} (Unix time in ms), {ts_us} (Unix time in µs), {rand:N} (N random letters and digits), {hex:N} (N random hex digits) (write `{{` for a literal brace)",
    ),
    (
        "template = '{\"id\":{seq}}'\nsize = 64",
        "bad.toml:2:1: size: a templated message is as long as its filled template; remove `size`",
    ),
    (
        "[[messages]]\ntemplate = 'x{seq}'\nfile = \"m.txt\"",
        "bad.toml:3:1: messages[0].file: give `template` or `file`, not both",
    ),
    (
        "[[messages]]\ntemplate = 'x{seq}'\n[[messages]]\nsize = 64",
        "bad.toml:3:1: messages[1]: either every message type has a template (or file) or none has: replies to templates are matched by `correlate`, stamped ones by their stamp",
    ),
    (
        "[[messages]]\ntemplate = 'ping'\ntype = \"ping\"",
        "bad.toml:3:8: messages[0].type: unknown message type for a template `ping` (expected one of: text, binary)",
    ),
    (
        "template = '{\"id\":{seq}}'\ncorrelate = \"stamp\"",
        "bad.toml:2:13: correlate: templated messages carry no stamp; use \"fifo\" or the JSON pointer of the reply's id",
    ),
    (
        "template = '{\"id\":{seq}}'\ncorrelate = \"id\"",
        "bad.toml:2:13: correlate: expected \"stamp\", \"fifo\" or a JSON pointer such as \"/id\", found \"id\"",
    ),
    (
        "template = '{\"id\":{rand:4}}'\ncorrelate = \"/id\"",
        "bad.toml:2:13: correlate: matching replies by id needs `{seq}` in every template (the id the server sends back)",
    ),
    (
        "mode = \"subscribed\"",
        "bad.toml:1:8: mode: unknown mode `subscribed`; did you mean `subscribe`?",
    ),
    (
        "compression = \"gzip\"",
        "bad.toml:1:15: compression: unknown compression `gzip` (expected one of: none, deflate)",
    ),
    (
        "timestamp_field = \"/ts\"",
        "bad.toml:1:1: timestamp_field: read from pushed messages, so it needs mode = \"subscribe\"",
    ),
    (
        "mode = \"subscribe\"\ntimestamp_field = \"ts\"",
        "bad.toml:2:19: timestamp_field: a JSON pointer starts with `/`, e.g. \"/ts\" (RFC 6901), found \"ts\"",
    ),
    (
        "mode = \"subscribe\"\ntimestamp_unit = \"sec\"",
        "bad.toml:2:18: timestamp_unit: unknown time unit `sec` (expected one of: us, ms, ns, s)",
    ),
    (
        "[tls]\ninsecure = true\n",
        "bad.toml:2:12: tls.insecure: certificate options apply to wss:// targets; the built-in server speaks ws:// (give a wss:// URL)",
    ),
    (
        "url = \"ws://127.0.0.1:9000/\"\n\n[tls]\ninsecure = true\nverify = false\n",
        "bad.toml:5:1: tls.verify: unknown field `verify` (expected one of: ca, insecure)",
    ),
    // Messages.
    (
        "[[messages]]\nweight = 0\n\n[[messages]]\nweight = 0\n",
        "bad.toml:1:1: messages: the weights add up to 0, so no message would ever be sent; give at least one type a weight above 0",
    ),
    (
        "max_frame = \"16KiB\"\n\n[[messages]]\nsize = \"64KiB\"\n",
        "bad.toml:4:8: messages[0].size: 64 KiB is above max_frame (16 KiB): raise max_frame or send smaller messages",
    ),
    (
        "[[messages]]\nsize = 16\n",
        "bad.toml:2:8: messages[0].size: expected at least 24 bytes for a binary message (it carries a 24-byte stamp), found 16",
    ),
    (
        "[[messages]]\ntype = \"text\"\nsize = [64, 32]\n",
        "bad.toml:3:13: messages[0].size[1]: expected at least 48 bytes for a text message (it carries a 48-character stamp), found 32",
    ),
    (
        "[[messages]]\ntype = \"ping\"\nsize = 200\n",
        "bad.toml:3:8: messages[0].size: expected at most 125 bytes for a ping (the control frame limit), found 200",
    ),
    (
        "[[messages]]\nsize = { min = 100, max = 50 }\n",
        "bad.toml:2:27: messages[0].size.max: expected max at least `min` (100), found 50",
    ),
    (
        "size = 64\n\n[[messages]]\nsize = 128\n",
        "bad.toml:1:1: size: `size` describes a single message type and cannot be combined with [[messages]]; set it inside a message type instead (size = 64)",
    ),
    (
        "[[messages]]\nname = \"a\"\n\n[[messages]]\nname = \"a\"\n",
        "bad.toml:5:8: messages[1].name: message name `a` is already used by messages[0]; names must be unique",
    ),
    // Unknown fields.
    (
        "conections = 100",
        "bad.toml:1:1: conections: unknown field `conections`; did you mean `connections`?",
    ),
    (
        "foo = 1",
        "bad.toml:1:1: foo: unknown field `foo` (expected one of: name, url, connections, headers, subprotocols, source_ips, tls, connect_timeout, connect_concurrency, max_frame, drain, rate, in_flight, duration, size, text, template, messages_file, ramp, phases, messages, connection, reconnect, faults, proxy, thresholds, abort_on_fail, origin, cookies, mode, compression, first_message, correlate, timestamp_field, timestamp_unit, sequence_field)",
    ),
    (
        "[reconnect]\npolicy = \"backoff\"\nmax_delay = \"5s\"\n",
        "bad.toml:3:1: reconnect.max_delay: unknown field `max_delay`; did you mean `max`?",
    ),
    // Reconnect.
    (
        "[reconnect]\npolicy = \"backoff\"\njitter = 2\n",
        "bad.toml:3:10: reconnect.jitter: expected a fraction from 0 to 1 such as 0.2, found 2",
    ),
    (
        "[reconnect]\ninitial = \"1s\"\n",
        "bad.toml:2:1: reconnect.initial: `initial` applies only to policy = \"backoff\"; the policy here is \"off\" (the default)",
    ),
    (
        "[reconnect]\npolicy = \"backoff\"\ninitial = \"2s\"\nmax = \"1s\"\n",
        "bad.toml:4:7: reconnect.max: max (1s) is below initial (2s); the delay grows from initial up to max",
    ),
    // Faults.
    (
        "[[faults]]\nkind = \"drop\"\nat = \"1s\"\nfraction = 1.5\n",
        "bad.toml:4:12: faults[0].fraction: expected a fraction above 0 and at most 1 such as 0.1, found 1.5",
    ),
    (
        "[[faults]]\nkind = \"half-open\"\nat = \"1s\"\n",
        "bad.toml:1:1: faults[0].for: missing; a half-open fault needs how long it lasts, e.g. for = \"2s\"",
    ),
    (
        "[[faults]]\nkind = \"drop\"\nat = \"1s\"\nfor = \"2s\"\n",
        "bad.toml:4:1: faults[0].for: `for` applies only to half-open and pause faults; a drop fault happens at an instant",
    ),
    (
        "[[faults]]\nkind = \"close\"\nat = \"10s\"\n",
        "bad.toml:3:6: faults[0].at: starts at 10s, at or after the end of traffic (10s, the end of the last phase); faults must start while traffic runs",
    ),
    // Thresholds.
    (
        "thresholds = [\"latency.p99 < 200ms\", \"errors.count == 0\", \"latency.p50 200ms\"]",
        "bad.toml:1:59: thresholds[2]: `latency.p50 200ms`: no comparison operator (use <, <=, >, >=, == or !=)",
    ),
    (
        "thresholds = [\"latency.p98 < 200ms\"]",
        "bad.toml:1:15: thresholds[0]: unknown metric `latency.p98` (did you mean `latency.p99`?)",
    ),
    (
        "thresholds = [\"errors.rate < 5ms\"]",
        "bad.toml:1:15: thresholds[0]: `errors.rate < 5ms`: errors.rate is a fraction; write it as a percentage such as 0.1% or a number such as 0.001",
    ),
    // TOML syntax.
    (
        "connections = 10\nname = \"unterminated\n",
        "bad.toml:2:21: TOML syntax: invalid basic string",
    ),
    (
        "connections = = 5",
        "bad.toml:1:15: TOML syntax: invalid string; expected `\"`, `'`",
    ),
];

#[test]
fn bad_scenarios_give_exact_errors() {
    let mut failures = Vec::new();
    for (i, (doc, want)) in CASES.iter().enumerate() {
        let got = match parse("bad.toml", doc, &[]) {
            Ok(_) => "(parsed without error)".to_string(),
            Err(e) => e.to_string(),
        };
        if got != *want {
            failures.push(format!("case {i}:\n{doc}\n  got:  {got:?}\n  want: {want:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn bad_overrides_give_exact_errors() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "connections = 5",
            "connections=abc",
            "--set connections=abc: connections: expected an integer of 1 or more, found a string (\"abc\")",
        ),
        (
            "",
            "phases.0.rate=5",
            "--set phases.0.rate=5: phases: the scenario has no `phases` list, so there is no element 0 to change; to change the single default phase, set `rate`, `duration` or `in_flight` (e.g. --set rate=5)",
        ),
        (
            "",
            "ramp.rate=100",
            "--set ramp.rate=100: ramp.rate: `rate` does not apply to a burst ramp (the default); it is for kind = \"linear\"",
        ),
        (
            "[[phases]]\nkind = \"idle\"\nduration = \"5s\"\n",
            "phases.x=1",
            "--set phases.x=1: phases: `phases` is a list; select an element by number, e.g. `phases.0.x`",
        ),
        (
            "",
            "duration=0",
            "--set duration=0: duration: expected a duration above 0 such as \"10s\", found 0",
        ),
    ];
    let mut failures = Vec::new();
    for (doc, arg, want) in cases {
        let ov = Override::from_set(arg).unwrap();
        let got = match parse("bad.toml", doc, &[ov]) {
            Ok(_) => "(parsed without error)".to_string(),
            Err(e) => e.to_string(),
        };
        if got != *want {
            failures.push(format!("--set {arg} on {doc:?}\n  got:  {got:?}\n  want: {want:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
