//! The stamp every test message carries, so each echo can be checked:
//! sequence number, intended send time, scheduling delay and a CRC-32 over
//! the stamp and the rest of the payload.
//!
//! Binary layout (24 bytes, little endian), then filler up to the message size:
//! `seq: u64 | intended_ns: u64 | delay: u32 | crc32: u32`, where `delay` carries the 64-bit
//! send delay in 30 bits with a 2-bit unit (ns, µs, ms, s): exact below 1.07 s, and above it
//! finer than the latency histograms' three significant digits (see [`encode_delay`]).
//! Text messages carry the same 24 bytes as 48 lowercase hex digits, so the
//! payload stays valid UTF-8.

/// Stamp length in binary messages.
pub const BINARY_STAMP_LEN: usize = 24;
/// Stamp length in text messages (hex encoded).
pub const TEXT_STAMP_LEN: usize = 48;

/// What a message says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Per-connection sequence number, from 0.
    pub seq: u64,
    /// When the message was meant to be sent, in ns since the run's epoch.
    pub intended_ns: u64,
    /// How late it actually went out, in ns. On the wire to within 0.1% (exact below 1.07 s).
    pub delay_ns: u64,
}

/// Smallest message that can carry a stamp.
pub fn min_size(text: bool) -> usize {
    if text {
        TEXT_STAMP_LEN
    } else {
        BINARY_STAMP_LEN
    }
}

/// A payload template of `size` bytes: the filler that follows the stamp.
/// Built once per core; each message copies it and writes its stamp.
pub fn template(size: usize, text: bool) -> Vec<u8> {
    let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..size)
        .map(|i| {
            if text {
                alphabet[i % alphabet.len()]
            } else {
                (i as u8).wrapping_mul(31).wrapping_add(7)
            }
        })
        .collect()
}

fn crc(fields: &[u8; 20], body: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(fields);
    h.update(body);
    h.finalize()
}

fn fields(st: Stamp) -> [u8; 20] {
    let mut f = [0u8; 20];
    f[0..8].copy_from_slice(&st.seq.to_le_bytes());
    f[8..16].copy_from_slice(&st.intended_ns.to_le_bytes());
    f[16..20].copy_from_slice(&encode_delay(st.delay_ns).to_le_bytes());
    f
}

/// Units of the delay field's 30-bit value, by its top two bits.
const DELAY_UNITS_NS: [u64; 4] = [1, 1_000, 1_000_000, 1_000_000_000];
const DELAY_MANTISSA: u64 = (1 << 30) - 1;

/// A send delay in 32 bits: the smallest unit in which it fits 30 bits (rounded down in that
/// unit, so off by less than 1 µs from 1.07 s, 1 ms from 18 min, 1 s from 12 days: always under
/// 0.1%); saturates at 34 years.
pub fn encode_delay(ns: u64) -> u32 {
    let unit = DELAY_UNITS_NS
        .iter()
        .position(|u| ns / u <= DELAY_MANTISSA)
        .unwrap_or(3);
    let v = (ns / DELAY_UNITS_NS[unit]).min(DELAY_MANTISSA);
    (unit as u32) << 30 | v as u32
}

/// The delay in ns that [`encode_delay`] wrote.
pub fn decode_delay(field: u32) -> u64 {
    (field as u64 & DELAY_MANTISSA) * DELAY_UNITS_NS[(field >> 30) as usize]
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Write `st` and the checksum into the first bytes of `msg`, whose filler is already in place.
/// `msg.len()` must be at least [`min_size`].
pub fn write(msg: &mut [u8], st: Stamp, text: bool) {
    let f = fields(st);
    let hl = min_size(text);
    let c = crc(&f, &msg[hl..]);
    let mut raw = [0u8; BINARY_STAMP_LEN];
    raw[..20].copy_from_slice(&f);
    raw[20..].copy_from_slice(&c.to_le_bytes());
    if text {
        for (i, b) in raw.iter().enumerate() {
            msg[2 * i] = HEX[(b >> 4) as usize];
            msg[2 * i + 1] = HEX[(b & 15) as usize];
        }
    } else {
        msg[..BINARY_STAMP_LEN].copy_from_slice(&raw);
    }
}

fn unhex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// Read and check the stamp of an echoed message. `None` means the message is
/// corrupted: too short, not hex where hex belongs, or a checksum mismatch.
pub fn read(msg: &[u8], text: bool) -> Option<Stamp> {
    let hl = min_size(text);
    if msg.len() < hl {
        return None;
    }
    let mut raw = [0u8; BINARY_STAMP_LEN];
    if text {
        for (i, r) in raw.iter_mut().enumerate() {
            *r = unhex(msg[2 * i])? << 4 | unhex(msg[2 * i + 1])?;
        }
    } else {
        raw.copy_from_slice(&msg[..BINARY_STAMP_LEN]);
    }
    let f: [u8; 20] = raw[..20].try_into().expect("20 bytes");
    let want = u32::from_le_bytes(raw[20..].try_into().expect("4 bytes"));
    if crc(&f, &msg[hl..]) != want {
        return None;
    }
    Some(Stamp {
        seq: u64::from_le_bytes(f[0..8].try_into().expect("8 bytes")),
        intended_ns: u64::from_le_bytes(f[8..16].try_into().expect("8 bytes")),
        delay_ns: decode_delay(u32::from_le_bytes(f[16..20].try_into().expect("4 bytes"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_roundtrip_in_both_encodings() {
        for text in [false, true] {
            for size in [min_size(text), 64, 1000, 1 << 20] {
                let mut m = template(size, text);
                let st = Stamp {
                    seq: 123_456_789_012,
                    intended_ns: u64::MAX - 5,
                    delay_ns: 42,
                };
                write(&mut m, st, text);
                if text {
                    assert!(std::str::from_utf8(&m).is_ok());
                }
                assert_eq!(read(&m, text), Some(st), "size {size} text {text}");
            }
        }
    }

    #[test]
    fn any_flipped_bit_is_caught() {
        for text in [false, true] {
            let mut m = template(100, text);
            write(
                &mut m,
                Stamp {
                    seq: 7,
                    intended_ns: 99,
                    delay_ns: 1,
                },
                text,
            );
            for i in 0..m.len() {
                for bit in 0..8 {
                    let mut c = m.clone();
                    c[i] ^= 1 << bit;
                    assert_eq!(read(&c, text), None, "byte {i} bit {bit} text {text}");
                }
            }
        }
    }

    #[test]
    fn long_send_delays_survive_the_wire() {
        // (delay in ns, what comes back): exact below 2^30 ns, then within the unit.
        let s = 1_000_000_000u64;
        let table = [
            (0, 0),
            (1_073_741_823, 1_073_741_823),
            (1_073_741_824, 1_073_741_000),
            (4_300_000_001, 4_300_000_000),
            (3_600 * s + 123_456_789, 3_600 * s + 123_000_000),
            (3 * 86_400 * s + 5, 3 * 86_400 * s),
            (u64::MAX, DELAY_MANTISSA * s),
        ];
        for (ns, want) in table {
            let back = decode_delay(encode_delay(ns));
            assert_eq!(back, want, "{ns} ns");
            assert!(ns - back <= ns / 1000 || ns == u64::MAX, "{ns} ns came back as {back}");
        }
        // Through a whole stamp: a client 5 s behind gets its 5 s back, not 4.29 s.
        let mut m = template(64, false);
        let st = Stamp {
            seq: 1,
            intended_ns: 10 * s,
            delay_ns: 5 * s,
        };
        write(&mut m, st, false);
        assert_eq!(read(&m, false), Some(st));
    }

    #[test]
    fn short_messages_are_corrupt() {
        assert_eq!(read(&[0u8; 23], false), None);
        assert_eq!(read(b"", true), None);
    }
}
