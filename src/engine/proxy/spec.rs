//! What a toxic is, as the user writes it: the kind and its parameters, the direction, the
//! fraction of connections it hits and its time window. One reader of `key = value` pairs serves
//! both `wsload proxy --toxic KIND,key=value,...` and a scenario's `[[proxy.toxics]]` tables, and
//! [`Toxic::to_spec`] writes a toxic back in the `--toxic` form (how `wsload run` hands its
//! scenario's toxics to the proxy it starts).

use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::seconds::{opt_secs, secs};

use crate::config::units::{parse_bytes, parse_duration, parse_rate};

/// Which bytes a toxic acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Client → server.
    Upstream,
    /// Server → client.
    Downstream,
    Both,
}

impl Direction {
    pub const NAMES: [(&'static str, Direction); 3] = [
        ("upstream", Direction::Upstream),
        ("downstream", Direction::Downstream),
        ("both", Direction::Both),
    ];
    pub fn key(self) -> &'static str {
        Direction::NAMES.iter().find(|(_, d)| *d == self).expect("listed").0
    }
    /// Does the toxic act on the client → server bytes (`up`) or the server → client ones?
    pub fn covers(self, up: bool) -> bool {
        match self {
            Direction::Both => true,
            Direction::Upstream => up,
            Direction::Downstream => !up,
        }
    }
}

/// When a reset or close toxic ends a connection.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    /// Per connection, a Poisson process of this many events per second (while the toxic is on):
    /// each connection ends after an exponentially distributed time with mean 1/rate.
    Rate(f64),
    /// Once this many bytes have been forwarded on the connection in the toxic's direction.
    After(u64),
}

/// A toxic's kind and parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Kind {
    /// Every chunk is held `delay` ± `jitter` (uniform) before it is forwarded, order kept.
    Latency {
        #[serde(with = "secs")]
        delay: Duration,
        #[serde(with = "secs")]
        jitter: Duration,
    },
    /// At most `bytes_per_s` per connection and direction (a token bucket, no burst).
    Bandwidth { bytes_per_s: u64 },
    /// Forward nothing for `pause` at the start of every `every` (from the toxic's start).
    Stall {
        #[serde(with = "secs")]
        pause: Duration,
        #[serde(with = "secs")]
        every: Duration,
    },
    /// Write every chunk as pieces of `size` bytes, `delay` apart.
    Slice {
        size: usize,
        #[serde(with = "secs")]
        delay: Duration,
    },
    /// Abort the connection: TCP reset to both ends.
    Reset { trigger: Trigger },
    /// Close the connection cleanly: FIN to both ends.
    Close { trigger: Trigger },
    /// Swallow every byte from the moment the toxic is on; the connection stays open.
    Timeout,
    /// Flip one bit in the last byte of a chunk, with this probability per chunk.
    Corrupt { probability: f64 },
    /// Refuse new connections (accept, then reset at once).
    Down,
}

impl Kind {
    pub const NAMES: [&'static str; 9] = [
        "latency",
        "bandwidth",
        "stall",
        "slice",
        "reset",
        "close",
        "timeout",
        "corrupt",
        "down",
    ];

    pub fn key(&self) -> &'static str {
        match self {
            Kind::Latency { .. } => "latency",
            Kind::Bandwidth { .. } => "bandwidth",
            Kind::Stall { .. } => "stall",
            Kind::Slice { .. } => "slice",
            Kind::Reset { .. } => "reset",
            Kind::Close { .. } => "close",
            Kind::Timeout => "timeout",
            Kind::Corrupt { .. } => "corrupt",
            Kind::Down => "down",
        }
    }

    /// The keys of the kind's own parameters (each toxic also takes [`COMMON_KEYS`]).
    pub fn keys(kind: &str) -> &'static [&'static str] {
        match kind {
            "latency" => &["delay", "jitter"],
            "bandwidth" => &["rate"],
            "stall" => &["pause", "every"],
            "slice" => &["size", "delay"],
            "reset" | "close" => &["rate", "after"],
            "corrupt" => &["probability"],
            _ => &[],
        }
    }
}

/// Keys every toxic takes.
pub const COMMON_KEYS: [&str; 4] = ["direction", "fraction", "at", "for"];

/// One toxic, validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Toxic {
    #[serde(flatten)]
    pub kind: Kind,
    pub direction: Direction,
    /// Fraction of the connections it applies to (chosen when each connection is accepted), in
    /// (0, 1]. For `down`: the fraction of new connections refused.
    pub fraction: f64,
    /// When it turns on, from the start of the proxy's clock (the start of traffic in a
    /// scenario). `None` with `lasting == None`: always on.
    #[serde(with = "opt_secs")]
    pub at: Option<Duration>,
    /// How long it stays on; `None`: until the end.
    #[serde(rename = "for", with = "opt_secs")]
    pub lasting: Option<Duration>,
}

impl Toxic {
    /// A toxic on all connections, both directions, always on.
    pub fn always(kind: Kind) -> Toxic {
        Toxic {
            kind,
            direction: Direction::Both,
            fraction: 1.0,
            at: None,
            lasting: None,
        }
    }

    /// Does the toxic act at `t` on the proxy's clock (`None`: the clock has not started)?
    pub fn active(&self, t: Option<Duration>) -> bool {
        if self.at.is_none() && self.lasting.is_none() {
            return true;
        }
        let Some(t) = t else { return false };
        let start = self.at.unwrap_or_default();
        t >= start && self.lasting.is_none_or(|l| t < start + l)
    }

    /// Does the toxic act on whole connections rather than on their bytes? Down and the
    /// rate-triggered resets and closes do; the rest shape or cut the byte stream.
    pub fn whole_connection(&self) -> bool {
        matches!(
            self.kind,
            Kind::Down
                | Kind::Reset {
                    trigger: Trigger::Rate(_)
                }
                | Kind::Close {
                    trigger: Trigger::Rate(_)
                }
        )
    }

    /// When the toxic turns on and off: `(start, end)` on the proxy's clock; `None` when it is
    /// always on.
    pub fn window(&self) -> Option<(Duration, Option<Duration>)> {
        if self.at.is_none() && self.lasting.is_none() {
            return None;
        }
        let start = self.at.unwrap_or_default();
        Some((start, self.lasting.map(|l| start + l)))
    }

    /// The toxic in `--toxic` form: `latency,delay=0.05s,jitter=0.01s,direction=both,...`.
    /// Durations are written in seconds with nanosecond precision, so they read back exactly.
    pub fn to_spec(&self) -> String {
        let s = |d: Duration| format!("{}.{:09}s", d.as_secs(), d.subsec_nanos());
        let mut o = self.kind.key().to_string();
        match &self.kind {
            Kind::Latency { delay, jitter } => {
                let _ = write!(o, ",delay={},jitter={}", s(*delay), s(*jitter));
            }
            Kind::Bandwidth { bytes_per_s } => {
                let _ = write!(o, ",rate={bytes_per_s}/s");
            }
            Kind::Stall { pause, every } => {
                let _ = write!(o, ",pause={},every={}", s(*pause), s(*every));
            }
            Kind::Slice { size, delay } => {
                let _ = write!(o, ",size={size},delay={}", s(*delay));
            }
            Kind::Reset { trigger } | Kind::Close { trigger } => match trigger {
                Trigger::Rate(r) => {
                    let _ = write!(o, ",rate={r:?}/s");
                }
                Trigger::After(n) => {
                    let _ = write!(o, ",after={n}");
                }
            },
            Kind::Corrupt { probability } => {
                let _ = write!(o, ",probability={probability:?}");
            }
            Kind::Timeout | Kind::Down => {}
        }
        if !matches!(self.kind, Kind::Down) {
            let _ = write!(o, ",direction={}", self.direction.key());
        }
        let _ = write!(o, ",fraction={:?}", self.fraction);
        if let Some(a) = self.at {
            let _ = write!(o, ",at={}", s(a));
        }
        if let Some(l) = self.lasting {
            let _ = write!(o, ",for={}", s(l));
        }
        o
    }

    /// A short description for logs and reports: `latency 50ms ±10ms downstream, 50% of connections`.
    pub fn describe(&self) -> String {
        use crate::config::units::fmt_bytes;
        use crate::config::units::fmt_dur as ms;
        let mut o = match &self.kind {
            Kind::Latency { delay, jitter } if jitter.is_zero() => format!("latency {}", ms(*delay)),
            Kind::Latency { delay, jitter } => format!("latency {} ±{}", ms(*delay), ms(*jitter)),
            Kind::Bandwidth { bytes_per_s } => format!("bandwidth {}/s", fmt_bytes(*bytes_per_s as f64)),
            Kind::Stall { pause, every } => format!("stall {} every {}", ms(*pause), ms(*every)),
            Kind::Slice { size, delay } => format!("slice {size} B every {}", ms(*delay)),
            Kind::Reset { trigger } | Kind::Close { trigger } => match trigger {
                Trigger::Rate(r) => format!("{} {r}/s per connection", self.kind.key()),
                Trigger::After(n) => format!("{} after {n} B", self.kind.key()),
            },
            Kind::Timeout => "timeout".to_string(),
            Kind::Corrupt { probability } => format!("corrupt {}% of chunks", probability * 100.0),
            Kind::Down => "down".to_string(),
        };
        // Whole-connection toxics have no direction to name.
        if !self.whole_connection() {
            let _ = write!(o, " {}", self.direction.key());
        }
        if self.fraction < 1.0 {
            let _ = write!(o, ", {}% of connections", self.fraction * 100.0);
        }
        match self.window() {
            None => o.push_str(", always on"),
            Some((s, Some(e))) => {
                let _ = write!(o, ", from {} to {}", ms(s), ms(e));
            }
            Some((s, None)) => {
                let _ = write!(o, ", from {}", ms(s));
            }
        }
        o
    }
}

/// Builds a [`Toxic`] from `key = value` pairs. Each value is checked as it is set (so errors
/// can point at it); [`Builder::finish`] checks what is missing or conflicting.
#[derive(Debug, Default)]
pub struct Builder {
    kind: String,
    vals: Vec<(String, Val)>,
}

#[derive(Debug, Clone, Copy)]
enum Val {
    Dur(Duration),
    Bytes(u64),
    Num(f64),
    Dir(Direction),
}

/// "unknown toxic `x`; did you mean `y`?" or the list of kinds.
fn unknown_kind(kind: &str) -> String {
    crate::config::suggest::unknown("toxic", kind, &Kind::NAMES)
}

impl Builder {
    /// Start a toxic of kind `kind` (one of [`Kind::NAMES`]).
    pub fn new(kind: &str) -> Result<Builder, String> {
        if !Kind::NAMES.contains(&kind) {
            return Err(unknown_kind(kind));
        }
        Ok(Builder {
            kind: kind.to_string(),
            vals: Vec::new(),
        })
    }

    /// The keys this toxic takes.
    pub fn keys(&self) -> Vec<&'static str> {
        let mut k = Kind::keys(&self.kind).to_vec();
        k.extend(COMMON_KEYS);
        k
    }

    /// Set `key` from its text. The error says what was expected, without the key (the caller
    /// names it with its location).
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let v = value.trim();
        let negative = |what: &str| format!("`{v}`: {what} cannot be negative");
        let dur = |what: &str| -> Result<Val, String> {
            if v.starts_with('-') {
                return Err(negative(what));
            }
            parse_duration(v).map(Val::Dur)
        };
        let frac = |ok: fn(f64) -> bool, what: &str| -> Result<Val, String> {
            match v.parse::<f64>() {
                Ok(x) if x.is_finite() && ok(x) => Ok(Val::Num(x)),
                _ => Err(format!("`{v}` is not {what}")),
            }
        };
        let val = match (self.kind.as_str(), key) {
            (_, "direction") => Val::Dir(
                Direction::NAMES
                    .iter()
                    .find(|(n, _)| *n == v)
                    .map(|(_, d)| *d)
                    .ok_or_else(|| format!("unknown direction `{v}` (expected one of: upstream, downstream, both)"))?,
            ),
            (_, "fraction") => frac(|x| x > 0.0 && x <= 1.0, "a fraction above 0 and at most 1 such as 0.1")?,
            (_, "at") => dur("a start time")?,
            (_, "for") => dur("a duration")?,
            ("latency", "delay") => dur("latency")?,
            ("latency", "jitter") => dur("jitter")?,
            ("slice", "delay") => dur("a delay")?,
            ("stall", "pause") | ("stall", "every") => dur("a duration")?,
            ("bandwidth", "rate") => {
                if v.starts_with('-') {
                    return Err(negative("a bandwidth"));
                }
                let (n, per) = v.split_once('/').unwrap_or((v, "s"));
                let per = parse_rate(&format!("1/{per}"))
                    .map_err(|_| format!("`{v}`: unknown rate unit `/{per}` (use /s, /m or /h)"))?;
                Val::Num(parse_bytes(n)? as f64 * per)
            }
            ("slice", "size") | ("reset", "after") | ("close", "after") => {
                if v.starts_with('-') {
                    return Err(negative("a size"));
                }
                Val::Bytes(parse_bytes(v)?)
            }
            ("reset", "rate") | ("close", "rate") => {
                if v.starts_with('-') {
                    return Err(negative("a rate"));
                }
                Val::Num(parse_rate(v)?)
            }
            ("corrupt", "probability") => frac(
                |x| x > 0.0 && x <= 1.0,
                "a probability above 0 and at most 1 such as 0.01",
            )?,
            _ => {
                let keys = self.keys();
                return Err(format!(
                    "`{key}` is not a setting of the {} toxic (it takes: {})",
                    self.kind,
                    keys.join(", ")
                ));
            }
        };
        self.vals.retain(|(k, _)| k != key);
        self.vals.push((key.to_string(), val));
        Ok(())
    }

    fn get(&self, key: &str) -> Option<Val> {
        self.vals.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }
    fn dur(&self, key: &str) -> Option<Duration> {
        match self.get(key) {
            Some(Val::Dur(d)) => Some(d),
            _ => None,
        }
    }
    fn num(&self, key: &str) -> Option<f64> {
        match self.get(key) {
            Some(Val::Num(x)) => Some(x),
            _ => None,
        }
    }
    fn bytes(&self, key: &str) -> Option<u64> {
        match self.get(key) {
            Some(Val::Bytes(x)) => Some(x),
            _ => None,
        }
    }

    /// The toxic, or what is missing or conflicting: `(key it is about, message)`.
    pub fn finish(self) -> Result<Toxic, Problem> {
        let kind = self.read_kind()?;
        let direction = match self.get("direction") {
            Some(Val::Dir(d)) => d,
            _ => Direction::Both,
        };
        if matches!(kind, Kind::Down) && self.get("direction").is_some() {
            return Err((
                Some("direction"),
                "the down toxic refuses whole connections; it has no direction".into(),
            ));
        }
        let at = self.dur("at");
        let lasting = self.dur("for");
        if lasting.is_some_and(|l| l.is_zero()) {
            return Err((Some("for"), "a duration above 0 such as 10s".into()));
        }
        Ok(Toxic {
            kind,
            direction,
            fraction: self.num("fraction").unwrap_or(1.0),
            at,
            lasting,
        })
    }

    /// `key` is missing: "the latency toxic needs delay (e.g. 50ms)".
    fn need(&self, key: &'static str, example: &str) -> Problem {
        (
            Some(key),
            format!("missing; the {} toxic needs {key} (e.g. {example})", self.kind),
        )
    }

    /// The kind with its own settings, each checked.
    fn read_kind(&self) -> Result<Kind, Problem> {
        let need = |key, example| self.need(key, example);
        Ok(match self.kind.as_str() {
            "latency" => Kind::Latency {
                delay: self.dur("delay").ok_or_else(|| need("delay", "50ms"))?,
                jitter: self.dur("jitter").unwrap_or_default(),
            },
            "bandwidth" => {
                let r = self.num("rate").ok_or_else(|| need("rate", "1MiB/s"))?;
                if r < 1.0 {
                    return Err((
                        Some("rate"),
                        "a bandwidth of at least 1 byte per second, such as 1MiB/s".into(),
                    ));
                }
                Kind::Bandwidth { bytes_per_s: r as u64 }
            }
            "stall" => {
                let pause = self.dur("pause").ok_or_else(|| need("pause", "200ms"))?;
                let every = self.dur("every").ok_or_else(|| need("every", "2s"))?;
                if pause.is_zero() || pause >= every {
                    return Err((
                        Some("pause"),
                        "the pause must be above 0 and shorter than `every` (a stall of pause every `every`)".into(),
                    ));
                }
                Kind::Stall { pause, every }
            }
            "slice" => {
                let size = self.bytes("size").ok_or_else(|| need("size", "1"))?;
                if size == 0 {
                    return Err((Some("size"), "a piece size of at least 1 byte".into()));
                }
                Kind::Slice {
                    size: size as usize,
                    delay: self.dur("delay").unwrap_or_default(),
                }
            }
            "reset" => Kind::Reset {
                trigger: self.trigger()?,
            },
            "close" => Kind::Close {
                trigger: self.trigger()?,
            },
            "timeout" => Kind::Timeout,
            "corrupt" => Kind::Corrupt {
                probability: self.num("probability").ok_or_else(|| need("probability", "0.01"))?,
            },
            "down" => Kind::Down,
            k => return Err((None, unknown_kind(k))),
        })
    }

    /// When a reset or close toxic fires: at a rate per connection, or after a byte count.
    fn trigger(&self) -> Result<Trigger, Problem> {
        match (self.num("rate"), self.bytes("after")) {
            (Some(_), Some(_)) => Err((
                Some("after"),
                "give either rate (per connection per second) or after (bytes), not both".into(),
            )),
            (Some(r), None) if r > 0.0 => Ok(Trigger::Rate(r)),
            (Some(_), None) => Err((Some("rate"), "a rate above 0 such as 0.1/s".into())),
            (None, Some(n)) if n > 0 => Ok(Trigger::After(n)),
            (None, Some(_)) => Err((Some("after"), "a byte count above 0 such as 64KiB".into())),
            (None, None) => Err((
                None,
                format!(
                    "the {} toxic needs rate (per connection per second, e.g. rate=0.1/s) or after (bytes, e.g. after=64KiB)",
                    self.kind
                ),
            )),
        }
    }
}

/// What is wrong with a toxic: the key it is about (if one), and the message.
pub type Problem = (Option<&'static str>, String);

/// Parse `KIND,key=value,...` (the `--toxic` form).
pub fn parse_toxic(s: &str) -> Result<Toxic, String> {
    let mut parts = s.split(',').map(str::trim);
    let kind = parts.next().unwrap_or_default();
    let mut b = Builder::new(kind).map_err(|e| format!("`{s}`: {e}"))?;
    for p in parts.filter(|p| !p.is_empty()) {
        let Some((k, v)) = p.split_once('=') else {
            return Err(format!("`{s}`: `{p}` is not key=value (e.g. {kind},at=10s,for=5s)"));
        };
        b.set(k.trim(), v).map_err(|e| format!("`{s}`: {}: {e}", k.trim()))?;
    }
    b.finish().map_err(|(k, e)| match k {
        Some(k) => format!("`{s}`: {k}: {e}"),
        None => format!("`{s}`: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_connection_toxics_are_down_and_rate_triggered_resets_and_closes() {
        for (spec, whole) in [
            ("down", true),
            ("reset,rate=1/s", true),
            ("close,rate=1/s", true),
            ("reset,after=64KiB", false),
            ("close,after=1", false),
            ("latency,delay=1ms", false),
            ("timeout", false),
        ] {
            let t = parse_toxic(spec).unwrap();
            assert_eq!(t.whole_connection(), whole, "{spec}");
            assert_eq!(t.describe().contains(" both"), !whole, "{spec}: {}", t.describe());
        }
    }

    #[test]
    fn specs_read_back_what_they_write() {
        for s in [
            "latency,delay=50ms,jitter=10ms",
            "latency,delay=1.5s,direction=downstream,fraction=0.5,at=20s,for=10s",
            "bandwidth,rate=1MiB/s,direction=upstream",
            "bandwidth,rate=60KiB/m",
            "stall,pause=200ms,every=2s,at=1s",
            "slice,size=1,delay=1ms",
            "reset,rate=0.01/s",
            "reset,after=64KiB,direction=downstream",
            "close,rate=2/m,for=5s",
            "timeout,fraction=0.1,at=3s",
            "corrupt,probability=0.25,direction=downstream",
            "down,at=5s,for=2s",
        ] {
            let t = parse_toxic(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(parse_toxic(&t.to_spec()).unwrap(), t, "{s} -> {}", t.to_spec());
        }
        let b = parse_toxic("bandwidth,rate=60KiB/m").unwrap();
        assert_eq!(b.kind, Kind::Bandwidth { bytes_per_s: 1024 });
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        let table = [
            ("latency,delay=-50ms", "latency cannot be negative"),
            ("latancy,delay=50ms", "unknown toxic `latancy`; did you mean `latency`?"),
            ("jam", "unknown toxic `jam` (expected one of: latency, bandwidth,"),
            ("latency", "delay: missing; the latency toxic needs delay"),
            (
                "latency,delay=50ms,rate=1",
                "`rate` is not a setting of the latency toxic",
            ),
            ("latency,delay=50ms,direction=sideways", "unknown direction `sideways`"),
            ("reset", "needs rate (per connection per second"),
            ("reset,rate=1/s,after=10", "either rate"),
            (
                "corrupt,probability=2",
                "`2` is not a probability above 0 and at most 1",
            ),
            ("stall,pause=2s,every=1s", "shorter than `every`"),
            ("slice,size=0", "at least 1 byte"),
            ("down,direction=upstream", "no direction"),
            ("latency,delay=5ms,for=0s", "above 0"),
            ("latency,delay", "`delay` is not key=value"),
        ];
        for (s, want) in table {
            let e = parse_toxic(s).unwrap_err();
            assert!(e.contains(want), "{s}: {e}");
        }
    }

    #[test]
    fn windows() {
        let mut t = parse_toxic("latency,delay=1ms").unwrap();
        assert!(t.active(None) && t.active(Some(Duration::from_secs(100))));
        t.at = Some(Duration::from_secs(2));
        t.lasting = Some(Duration::from_secs(3));
        let on = |s: f64| t.active(Some(Duration::from_secs_f64(s)));
        assert!(!t.active(None));
        assert!(!on(1.999) && on(2.0) && on(4.999) && !on(5.0));
        t.lasting = None;
        assert!(t.active(Some(Duration::from_secs(1_000_000))));
        assert_eq!(t.window(), Some((Duration::from_secs(2), None)));
    }
}
