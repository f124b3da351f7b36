//! permessage-deflate (RFC 7692) for the client: the offer, the check of the
//! server's answer, and one compressor and decompressor per core.
//!
//! wsload offers no context takeover in either direction, so every message is
//! compressed and decompressed on its own and the core's two (de)compressors
//! are reset and reused for every connection: no per-connection window (a
//! window costs 32 KiB or more per connection) and no allocation per message
//! once the buffers have grown. The cost is a lower ratio than a server that
//! keeps its context would reach on repetitive streams.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// Sent in `Sec-WebSocket-Extensions`.
pub const OFFER: &str = "permessage-deflate; client_no_context_takeover; server_no_context_takeover";

/// Read the server's `Sec-WebSocket-Extensions` answer. `Ok(true)`: deflate is in use.
pub fn agreed(value: Option<&[u8]>, offered: bool) -> Result<bool, String> {
    let Some(v) = value else { return Ok(false) };
    let v = String::from_utf8_lossy(v);
    let mut exts = v.split(',').map(str::trim).filter(|e| !e.is_empty());
    let Some(ext) = exts.next() else { return Ok(false) };
    if !offered {
        return Err(format!(
            "the server enabled extension {ext:?}, which wsload did not offer"
        ));
    }
    if let Some(more) = exts.next() {
        return Err(format!(
            "the server enabled a second extension {more:?}; wsload offered one"
        ));
    }
    let mut params = ext.split(';').map(str::trim);
    let name = params.next().unwrap_or("");
    if !name.eq_ignore_ascii_case("permessage-deflate") {
        return Err(format!(
            "the server enabled extension {name:?}, which wsload did not offer"
        ));
    }
    let mut server_nct = false;
    for p in params {
        let (k, val) = match p.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim().trim_matches('"'))),
            None => (p, None),
        };
        match (k.to_ascii_lowercase().as_str(), val) {
            ("server_no_context_takeover", None) => server_nct = true,
            ("client_no_context_takeover", None) => {}
            // A smaller server window is fine: the decompressor's 32 KiB window covers it.
            ("server_max_window_bits", Some(b)) if b.parse::<u8>().is_ok_and(|b| (8..=15).contains(&b)) => {}
            _ => {
                return Err(format!(
                    "permessage-deflate parameter {p:?} was not offered or is invalid"
                ))
            }
        }
    }
    if !server_nct {
        return Err(
            "the server accepted permessage-deflate but not server_no_context_takeover, which wsload requires \
             (it keeps no compression window per connection); run without `compression`"
                .into(),
        );
    }
    Ok(true)
}

/// Why a compressed message could not be inflated.
#[derive(Debug, PartialEq, Eq)]
pub enum InflateError {
    /// It inflates to more than the limit (a compression bomb, or just too big).
    TooLarge(usize),
    Corrupt(String),
}

/// One core's compressor and decompressor.
pub struct Deflater {
    comp: Compress,
    decomp: Decompress,
    /// The decompressor must be reset before the next message.
    decomp_dirty: bool,
}

impl Default for Deflater {
    fn default() -> Self {
        Deflater {
            comp: Compress::new(Compression::default(), false),
            decomp: Decompress::new(false),
            decomp_dirty: false,
        }
    }
}

const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

impl Deflater {
    /// Append `input`, compressed as one message, to `out` (RFC 7692 §7.2.1: the final empty
    /// block's `00 00 ff ff` is removed).
    pub fn compress(&mut self, input: &[u8], out: &mut Vec<u8>) {
        self.comp.reset();
        let start = out.len();
        let mut consumed = 0;
        loop {
            out.reserve(input.len() / 2 + 64);
            let before = self.comp.total_in();
            self.comp
                .compress_vec(&input[consumed..], out, FlushCompress::Sync)
                .expect("deflate over memory does not fail");
            consumed += (self.comp.total_in() - before) as usize;
            // Done once all input is in and the sync marker is out with room to spare.
            if consumed == input.len() && out.len() < out.capacity() && out[start..].ends_with(&TAIL) {
                break;
            }
        }
        out.truncate(out.len() - TAIL.len());
    }

    /// Append the inflated `input` (one message, without its tail) to `out`, at most `max` bytes.
    pub fn decompress(&mut self, input: &[u8], out: &mut Vec<u8>, max: usize) -> Result<(), InflateError> {
        // No reset between messages (a reset costs more than inflating a small message): with no
        // context takeover each message refers to nothing before it, and after a message's
        // `00 00 ff ff` tail the inflater stands at a block boundary. Only a message that ends
        // the deflate stream (BFINAL) or breaks it needs a fresh state.
        if self.decomp_dirty {
            self.decomp.reset(false);
            self.decomp_dirty = false;
        }
        let r = self.inflate(input, out, max);
        self.decomp_dirty = !matches!(r, Ok(false));
        r.map(|_| ())
    }

    /// `Ok(true)`: the message ended the deflate stream.
    fn inflate(&mut self, input: &[u8], out: &mut Vec<u8>, max: usize) -> Result<bool, InflateError> {
        let start = out.len();
        let mut ended = false;
        for part in [input, &TAIL[..]] {
            let mut consumed = 0;
            loop {
                if out.len() - start > max {
                    return Err(InflateError::TooLarge(max));
                }
                out.reserve((part.len() * 4).clamp(256, 1 << 20));
                let (in_before, out_before) = (self.decomp.total_in(), out.len());
                let st = self
                    .decomp
                    .decompress_vec(&part[consumed..], out, FlushDecompress::Sync)
                    .map_err(|e| InflateError::Corrupt(e.to_string()))?;
                consumed += (self.decomp.total_in() - in_before) as usize;
                let limited = out.len() == out.capacity();
                if st == Status::StreamEnd {
                    ended = true;
                    break;
                }
                if consumed == part.len() && !limited {
                    break;
                }
                if out.len() == out_before && (self.decomp.total_in() - in_before) == 0 {
                    return Err(InflateError::Corrupt("the deflate stream stopped short".into()));
                }
            }
        }
        if out.len() - start > max {
            return Err(InflateError::TooLarge(max));
        }
        Ok(ended)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_compresses_repetitive_text() {
        let mut d = Deflater::default();
        for msg in [
            &b""[..],
            b"x",
            br#"{"op":"publish","topic":"prices","data":[1,2,3,4,5,6,7,8,9,10,1,2,3,4,5,6,7,8,9,10]}"#,
            &[7u8; 100_000][..],
        ] {
            let mut z = Vec::new();
            d.compress(msg, &mut z);
            assert!(!z.ends_with(&TAIL) || msg.is_empty());
            let mut back = Vec::new();
            d.decompress(&z, &mut back, 1 << 20).unwrap();
            assert_eq!(back, msg);
            if msg.len() > 1000 {
                assert!(z.len() * 50 < msg.len(), "{} -> {}", msg.len(), z.len());
            }
        }
    }

    #[test]
    fn limits_and_garbage() {
        let mut d = Deflater::default();
        let mut z = Vec::new();
        d.compress(&[0u8; 1 << 20], &mut z);
        let mut back = Vec::new();
        assert_eq!(d.decompress(&z, &mut back, 1000), Err(InflateError::TooLarge(1000)));
        let mut back = Vec::new();
        assert!(matches!(
            d.decompress(&[0xff, 0xff, 0xff], &mut back, 1000),
            Err(InflateError::Corrupt(_))
        ));
        // The decompressor is reusable after an error.
        let mut z = Vec::new();
        d.compress(b"hello", &mut z);
        let mut back = Vec::new();
        d.decompress(&z, &mut back, 100).unwrap();
        assert_eq!(back, b"hello");
    }

    #[test]
    fn agreement() {
        let ok = b"permessage-deflate; server_no_context_takeover; client_no_context_takeover";
        assert_eq!(agreed(Some(ok), true), Ok(true));
        assert_eq!(agreed(None, true), Ok(false));
        assert_eq!(
            agreed(
                Some(b"permessage-deflate;server_no_context_takeover;server_max_window_bits=12"),
                true
            ),
            Ok(true)
        );
        assert!(agreed(Some(b"permessage-deflate"), true)
            .unwrap_err()
            .contains("server_no_context_takeover"));
        assert!(agreed(Some(ok), false).unwrap_err().contains("did not offer"));
        assert!(agreed(Some(b"x-webkit-deflate-frame"), true).is_err());
        assert!(agreed(
            Some(b"permessage-deflate; server_no_context_takeover; client_max_window_bits=9"),
            true
        )
        .is_err());
    }
}
