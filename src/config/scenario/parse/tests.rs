//! End-to-end tests of the parser: whole documents and overrides in, scenarios or errors out.

use std::time::Duration;

use super::super::model::*;
use super::describe::ramp_time;
use super::*;
use crate::config::target::Target;

pub(super) fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn set(arg: &str) -> Override {
    Override::from_set(arg).unwrap()
}

pub(super) fn defaults() -> Scenario {
    Scenario {
        name: None,
        target: None,
        headers: vec![],
        subprotocols: vec![],
        source_ips: vec![],
        tls: TlsOptions::default(),
        connect_timeout: secs(10.0),
        connect_concurrency: 256,
        max_frame: 16 << 20,
        connections: 10_000,
        ramp: Ramp::Burst,
        ramp_down: None,
        traffic_start: TrafficStart::AfterRamp,
        phases: vec![Phase {
            name: "main".into(),
            start: Duration::ZERO,
            duration: secs(10.0),
            kind: PhaseKind::Sustained { rate: 1.0 },
        }],
        messages: vec![MessageType {
            name: "default".into(),
            weight: 1,
            kind: MessageKind::Binary,
            size: SizeDist::Fixed(64),
            templates: vec![],
        }],
        lifetime: None,
        reconnect: Reconnect::Off,
        recovered_within: secs(5.0),
        faults: vec![],
        proxy: None,
        thresholds: vec![],
        abort_on_fail: false,
        drain: secs(5.0),
        mode: Mode::Echo,
        compression: false,
        first_message: None,
        correlate: Correlate::Stamp,
        push: PushFields {
            timestamp: None,
            unit: TimeUnit::Us,
            sequence: None,
        },
    }
}

#[test]
fn empty_document_gives_the_documented_defaults() {
    assert_eq!(parse("a.toml", "", &[]).unwrap(), defaults());
    assert_eq!(load(None, &[]).unwrap(), defaults());
}

const FULL: &str = r#"
name = "peak-10k"
url = "ws://127.0.0.1:9000/path"
connections = 2000
headers = { "X-Test" = "1", Authorization = "Bearer abc" }
subprotocols = ["chat", "v2"]
source_ips = ["127.0.0.1", "::1"]
connect_timeout = "3s"
connect_concurrency = 64
max_frame = "64KiB"
drain = 2
thresholds = ["latency.p99 < 200ms", "messages.lost == 0"]
abort_on_fail = true

[ramp]
kind = "exponential"
start = 100
factor = 2.0
every = "500ms"
down = "5s"
traffic = "with-ramp"

[[phases]]
name = "warm"
kind = "sustained"
duration = "30s"
rate = "5/s"

[[phases]]
name = "spike"
kind = "burst"
at = "35s"
duration = "1m"
rate = 5
burst_rate = "3000/m"
burst_for = "2s"
every = "10s"

[[phases]]
kind = "ramp"
duration = 20
from = "1/s"
to = 10.5

[[phases]]
kind = "idle"
duration = "5s"

[[phases]]
kind = "in-flight"
duration = "10s"
window = 16

[[messages]]
name = "small"
weight = 80
size = 64

[[messages]]
name = "chat"
weight = 15
type = "text"
size = [64, 128, "1KiB"]

[[messages]]
weight = 5
type = "ping"
size = { min = 24, max = 125 }

[connection]
lifetime = "30s"

[reconnect]
policy = "backoff"
initial = "50ms"
max = "2s"
factor = 1.5
jitter = 0.1
recovered_within = "3s"

[[faults]]
kind = "drop"
at = "40s"
every = "5s"
fraction = 0.1

[[faults]]
kind = "pause"
at = 50
for = "2s"
"#;

#[test]
fn full_example_uses_every_field() {
    let s = parse("full.toml", FULL, &[]).unwrap();
    let want = Scenario {
        name: Some("peak-10k".into()),
        target: Some(Target::parse("ws://127.0.0.1:9000/path").unwrap()),
        headers: vec![
            ("X-Test".into(), "1".into()),
            ("Authorization".into(), "Bearer abc".into()),
        ],
        subprotocols: vec!["chat".into(), "v2".into()],
        source_ips: vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()],
        tls: TlsOptions::default(),
        connect_timeout: secs(3.0),
        connect_concurrency: 64,
        max_frame: 64 << 10,
        connections: 2000,
        ramp: Ramp::Exponential {
            start: 100,
            factor: 2.0,
            every: secs(0.5),
        },
        ramp_down: Some(secs(5.0)),
        traffic_start: TrafficStart::WithRamp,
        phases: vec![
            Phase {
                name: "warm".into(),
                start: Duration::ZERO,
                duration: secs(30.0),
                kind: PhaseKind::Sustained { rate: 5.0 },
            },
            Phase {
                name: "spike".into(),
                start: secs(35.0),
                duration: secs(60.0),
                kind: PhaseKind::Burst {
                    rate: 5.0,
                    burst_rate: 50.0,
                    burst_for: secs(2.0),
                    every: secs(10.0),
                },
            },
            Phase {
                name: "phase-3".into(),
                start: secs(95.0),
                duration: secs(20.0),
                kind: PhaseKind::Ramp { from: 1.0, to: 10.5 },
            },
            Phase {
                name: "phase-4".into(),
                start: secs(115.0),
                duration: secs(5.0),
                kind: PhaseKind::Idle,
            },
            Phase {
                name: "phase-5".into(),
                start: secs(120.0),
                duration: secs(10.0),
                kind: PhaseKind::InFlight { window: 16 },
            },
        ],
        messages: vec![
            MessageType {
                name: "small".into(),
                weight: 80,
                kind: MessageKind::Binary,
                size: SizeDist::Fixed(64),
                templates: vec![],
            },
            MessageType {
                name: "chat".into(),
                weight: 15,
                kind: MessageKind::Text,
                size: SizeDist::List(vec![64, 128, 1024]),
                templates: vec![],
            },
            MessageType {
                name: "type-3".into(),
                weight: 5,
                kind: MessageKind::Ping,
                size: SizeDist::Uniform { min: 24, max: 125 },
                templates: vec![],
            },
        ],
        lifetime: Some(secs(30.0)),
        reconnect: Reconnect::Backoff {
            initial: secs(0.05),
            max: secs(2.0),
            factor: 1.5,
            jitter: 0.1,
        },
        recovered_within: secs(3.0),
        faults: vec![
            Fault {
                kind: FaultKind::Drop,
                at: secs(40.0),
                every: Some(secs(5.0)),
                fraction: 0.1,
                lasting: None,
            },
            Fault {
                kind: FaultKind::Pause,
                at: secs(50.0),
                every: None,
                fraction: 1.0,
                lasting: Some(secs(2.0)),
            },
        ],
        proxy: None,
        thresholds: vec!["latency.p99 < 200ms".into(), "messages.lost == 0".into()],
        abort_on_fail: true,
        drain: secs(2.0),
        ..defaults()
    };
    assert_eq!(s, want);
    let d = describe(&s);
    for needle in [
        "peak-10k",
        "spike",
        "burst 5/s",
        "chat",
        "ping",
        "backoff",
        "pause",
        "planned time",
    ] {
        assert!(d.contains(needle), "{needle} missing from:\n{d}");
    }
}

#[test]
fn overrides_apply_on_top_of_the_file() {
    let s = parse("a.toml", "connections = 5", &[set("connections=20000")]).unwrap();
    assert_eq!(s.connections, 20_000);

    let text = "[[phases]]\nkind = \"sustained\"\nrate = 1\nduration = \"5s\"\n";
    let s = parse("a.toml", text, &[set("phases.0.rate=5")]).unwrap();
    assert_eq!(s.phases[0].kind, PhaseKind::Sustained { rate: 5.0 });
    // One past the end adds a phase.
    let s = parse(
        "a.toml",
        text,
        &[set("phases.1.kind=idle"), set("phases.1.duration=2s")],
    )
    .unwrap();
    assert_eq!(s.phases[1].kind, PhaseKind::Idle);
    assert_eq!(s.phases[1].start, secs(5.0));

    let s = parse("a.toml", "", &[set("ramp.kind=linear"), set("ramp.rate=100")]).unwrap();
    assert_eq!(s.ramp, Ramp::Linear { per_s: 100.0 });

    let s = parse("a.toml", "", &[set("url=ws://127.0.0.1:9/")]).unwrap();
    assert_eq!(s.target.unwrap().port, 9);

    let s = parse(
        "a.toml",
        "",
        &[set("duration=30s"), set("name=2024"), set("size=\"1KiB\"")],
    )
    .unwrap();
    assert_eq!(s.phases[0].duration, secs(30.0));
    assert_eq!(s.name.as_deref(), Some("2024"));
    assert_eq!(s.messages[0].size, SizeDist::Fixed(1024));

    // A run flag translated into the same key.
    let rate = Override {
        key: "rate".into(),
        value: "5".into(),
        origin: "--rate 5".into(),
    };
    assert_eq!(
        parse("a.toml", "", &[rate]).unwrap().phases[0].kind,
        PhaseKind::Sustained { rate: 5.0 }
    );
}

#[test]
fn bad_overrides_name_their_origin() {
    let e = parse("a.toml", "connections = 5", &[set("connections=abc")]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "--set connections=abc: connections: expected an integer of 1 or more, found a string (\"abc\")"
    );
    let e = parse("a.toml", "", &[set("connections.x=1")]).unwrap_err();
    assert_eq!(e.location, "--set connections.x=1");
    let e = parse("a.toml", "", &[set("conections=1")]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "--set conections=1: conections: unknown field `conections`; did you mean `connections`?"
    );
    let e = parse("a.toml", "", &[set("phases.3.rate=1")]).unwrap_err();
    assert_eq!(e.location, "--set phases.3.rate=1");
    assert!(Override::from_set("novalue").is_err());
    assert!(Override::from_set("=5").is_err());
    assert_eq!(set("a.b=c=d").value, "c=d");
}

#[test]
fn shorthand_rate_and_in_flight() {
    let s = parse("a.toml", "rate = 0\nduration = \"3s\"", &[]).unwrap();
    assert_eq!(s.phases.len(), 1);
    assert_eq!(s.phases[0].kind, PhaseKind::Idle);
    assert_eq!(s.phases[0].duration, secs(3.0));
    let s = parse("a.toml", "in_flight = 8", &[]).unwrap();
    assert_eq!(s.phases[0].kind, PhaseKind::InFlight { window: 8 });
    assert!(s.has_in_flight());
    let s = parse("a.toml", "size = \"1KiB\"\ntext = true", &[]).unwrap();
    assert_eq!(s.messages[0].kind, MessageKind::Text);
    assert_eq!(s.messages[0].size, SizeDist::Fixed(1024));
}

#[test]
fn ramps() {
    let s = parse("a.toml", "[ramp]\nkind = \"stepped\"\nstep = 1000\nhold = \"2s\"", &[]).unwrap();
    assert_eq!(
        s.ramp,
        Ramp::Stepped {
            step: 1000,
            hold: secs(2.0)
        }
    );
    assert_eq!(ramp_time(&s), Some(secs(18.0)));
    let e = parse("a.toml", "[ramp]\nkind = \"linear\"\nrate = 10\nfactor = 2", &[]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "a.toml:4:1: ramp.factor: `factor` does not apply to a linear ramp; it is for kind = \"exponential\""
    );
}

#[test]
fn dotted_keys_inline_tables_and_whole_value_overrides() {
    let doc = "ramp.kind = \"linear\"\nramp.rate = \"x\"";
    assert_eq!(
        parse("s.toml", doc, &[]).unwrap_err().to_string(),
        "s.toml:2:13: ramp.rate: `x` is not a rate (examples: 2, 100/s, 600/m)"
    );
    let doc = "phases = [{ kind = \"idle\", duration = 5 }, { kind = \"idle\", duration = 5, at = 1 }]";
    assert_eq!(parse("s.toml", doc, &[]).unwrap_err().location, "s.toml:1:80");
    let s = parse("s.toml", "", &[set("ramp={kind=\"linear\", rate=50}")]).unwrap();
    assert_eq!(s.ramp, Ramp::Linear { per_s: 50.0 });
    let e = parse("s.toml", "", &[set("thresholds=[\"errors.count < 1\", \"b\"]")]).unwrap_err();
    assert_eq!(
        (e.location.as_str(), e.field.as_str()),
        ("--set thresholds=[\"errors.count < 1\", \"b\"]", "thresholds[1]")
    );
    // Columns count characters, not bytes.
    let e = parse("s.toml", "x = \"é\" = 1", &[]).unwrap_err();
    assert_eq!(e.to_string(), "s.toml:1:9: TOML syntax: expected newline, `#`");
}

#[test]
fn load_reads_files_and_names_them_in_errors() {
    let path = std::env::temp_dir().join(format!("wsload-parse-{}.toml", std::process::id()));
    std::fs::write(&path, "connections = 7\nrate = \"2/s\"\n").unwrap();
    let s = load(Some(&path), &[set("duration=3")]).unwrap();
    assert_eq!((s.connections, s.phases[0].duration), (7, secs(3.0)));
    std::fs::write(&path, "connections = 0\n").unwrap();
    let e = load(Some(&path), &[]).unwrap_err();
    assert_eq!(e.location, format!("{}:1:15", path.display()));
    std::fs::remove_file(&path).unwrap();
    let e = load(Some(&path), &[]).unwrap_err();
    assert!(e.message.starts_with("cannot read the scenario file"), "{e}");
    let e = load(None, &[set("connections=0")]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "--set connections=0: connections: expected an integer of 1 or more, found 0"
    );
}

#[test]
fn proxy_toxics_read_like_the_command_line() {
    let text = "[[phases]]\nkind = \"sustained\"\nrate = 1\nduration = \"30s\"\n\n[proxy]\ncpu = 1\n\n\
[[proxy.toxics]]\nkind = \"latency\"\ndelay = \"50ms\"\njitter = \"10ms\"\ndirection = \"downstream\"\nat = \"20s\"\nfor = \"5s\"\n\n\
[[proxy.toxics]]\nkind = \"slice\"\nsize = 1\nfraction = 0.5\n";
    let s = parse("a.toml", text, &[]).unwrap();
    let p = s.proxy.expect("[proxy]");
    assert_eq!(p.cpu, Some(1));
    let cli = [
        "latency,delay=50ms,jitter=10ms,direction=downstream,at=20s,for=5s",
        "slice,size=1,fraction=0.5",
    ]
    .map(|t| crate::engine::proxy::spec::parse_toxic(t).unwrap());
    assert_eq!(p.toxics, cli);
    // Overrides reach the toxics too.
    let s = parse("a.toml", text, &[set("proxy.toxics.0.delay=80ms")]).unwrap();
    assert!(s.proxy.unwrap().toxics[0].describe().starts_with("latency 80ms"));
    assert!(describe(&parse("a.toml", text, &[]).unwrap()).contains("latency 50ms ±10ms downstream, from 20s to 25s"));
}

/// The top-level keys share the templates-or-file check with each `[[messages]]` entry, under
/// their own names (`messages_file`, not `file`).
#[test]
fn top_level_template_and_messages_file_conflict_under_their_own_names() {
    let e = parse("a.toml", "template = '{seq}'\nmessages_file = \"m.jsonl\"", &[]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "a.toml:2:1: messages_file: give `template` or `messages_file`, not both"
    );
    let e = parse("a.toml", "template = '{seq}'\nsize = 64", &[]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "a.toml:2:1: size: a templated message is as long as its filled template; remove `size`"
    );
}
