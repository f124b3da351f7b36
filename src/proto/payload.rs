//! The stamp every test message carries, so each echo can be checked:
//! sequence number, intended send time, scheduling delay and a CRC-32C over
//! the stamp and the payload's length; the filler after it is a fixed pattern, checked byte for byte.
//!
//! Binary layout (24 bytes, little endian), then filler up to the message size:
//! `seq: u64 | intended_ns: u64 | delay: u32 | crc32c: u32`, where `delay` carries the 64-bit
//! send delay in 30 bits with a 2-bit unit (ns, µs, ms, s): exact below 1.07 s, and above it
//! finer than the latency histograms' three significant digits (see [`encode_delay`]).
//! Text messages carry the same 24 bytes as 48 lowercase hex digits, so the
//! payload stays valid UTF-8. The filler is [`FILLER`] repeated from the payload's first byte
//! (the stamp covers the start of it): ASCII, so one pattern serves text and binary messages.
//!
//! Why the checksum leaves the filler out: a CRC over a 64-byte payload, computed when a message
//! is sent and again when its echo is checked, was 15% of the client's CPU in a flood; comparing
//! the filler with the pattern catches every changed byte and costs a `memcmp`.

use super::frame;

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

/// The filler's period: payload byte `i` is `FILLER[i % 36]`.
pub const FILLER: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// The filler repeated, so a run of it at any phase is one slice of this (up to 1,116 bytes).
const FILLER_BLOCK: [u8; 36 * 32] = {
    let mut b = [0u8; 36 * 32];
    let mut i = 0;
    while i < b.len() {
        b[i] = FILLER[i % FILLER.len()];
        i += 1;
    }
    b
};

/// A payload template of `size` bytes: the filler that follows the stamp.
/// Built once per core; each message copies it and writes its stamp.
pub fn template(size: usize) -> Vec<u8> {
    (0..size).map(|i| FILLER[i % FILLER.len()]).collect()
}

/// Is `body` the filler from payload offset `offset` on?
fn is_filler(mut body: &[u8], mut offset: usize) -> bool {
    while !body.is_empty() {
        let phase = offset % FILLER.len();
        let n = body.len().min(FILLER_BLOCK.len() - phase);
        if body[..n] != FILLER_BLOCK[phase..phase + n] {
            return false;
        }
        body = &body[n..];
        offset += n;
    }
    true
}

/// The checksum: a CRC-32C over the stamp's fields and the payload's length (so an echo cut
/// short or padded fails it, as one with a changed byte fails the filler check). CRC-32C
/// because x86-64 computes it in one instruction per 8 bytes (SSE 4.2): 1 ns here, where a
/// table-driven CRC-32 of the same 28 bytes took 13 ns, twice per message.
fn crc(seq: u64, intended_ns: u64, delay: u32, len: usize) -> u32 {
    let words = [seq, intended_ns, u64::from(delay), len as u64];
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("sse4.2") {
        // SAFETY: the CPU has SSE 4.2, checked just above.
        return unsafe { crc32c_sse42(words) };
    }
    crc32c_table(words.iter().flat_map(|w| w.to_le_bytes()))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse4.2")]
unsafe fn crc32c_sse42(words: [u64; 4]) -> u32 {
    use std::arch::x86_64::_mm_crc32_u64;
    let mut c = u64::from(u32::MAX);
    for w in words {
        c = _mm_crc32_u64(c, w);
    }
    !(c as u32)
}

/// CRC-32C (Castagnoli, reflected) one byte at a time: the same value as the instruction.
const CRC32C_TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { 0x82F6_3B78 ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

fn crc32c_table(bytes: impl IntoIterator<Item = u8>) -> u32 {
    let mut c = u32::MAX;
    for b in bytes {
        c = CRC32C_TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

/// Units of the delay field's 30-bit value, by its top two bits.
const DELAY_UNITS_NS: [u64; 4] = [1, 1_000, 1_000_000, 1_000_000_000];
const DELAY_MANTISSA: u64 = (1 << 30) - 1;

/// A send delay in 32 bits: the smallest unit in which it fits 30 bits (rounded down in that
/// unit, so off by less than 1 µs from 1.07 s, 1 ms from 18 min, 1 s from 12 days: always under
/// 0.1%); saturates at 34 years.
pub fn encode_delay(ns: u64) -> u32 {
    if ns <= DELAY_MANTISSA {
        // Nearly always: no division.
        return ns as u32;
    }
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

/// The binary stamp of `st` in a payload of `len` bytes, as three little-endian words:
/// `seq`, `intended_ns`, and the delay field with the checksum above it. Inlined, so the words
/// stay in registers (returned through the stack, they were read back as a vector and stalled).
#[inline(always)]
fn stamp_words(st: Stamp, len: usize) -> [u64; 3] {
    let delay = encode_delay(st.delay_ns);
    let c = crc(st.seq, st.intended_ns, delay, len);
    [st.seq, st.intended_ns, u64::from(c) << 32 | u64::from(delay)]
}

/// Store `words` (each XORed with `key`) at the start of `msg`, word by word: one 24-byte
/// array assembled from smaller stores and copied out stalled on store forwarding (a third of
/// the stamp's time in a flood).
#[inline(always)]
fn put_words(msg: &mut [u8], words: [u64; 3], key: u64) {
    for (w, out) in words.iter().zip(msg[..BINARY_STAMP_LEN].chunks_exact_mut(8)) {
        out.copy_from_slice(&(w ^ key).to_le_bytes());
    }
}

/// Write `st` and its checksum into the first bytes of `msg`, whose filler ([`template`]) is
/// already in place. `msg.len()` must be at least [`min_size`].
pub fn write(msg: &mut [u8], st: Stamp, text: bool) {
    let words = stamp_words(st, msg.len());
    if text {
        let mut raw = [0u8; BINARY_STAMP_LEN];
        put_words(&mut raw, words, 0);
        for (i, b) in raw.iter().enumerate() {
            msg[2 * i] = HEX[(b >> 4) as usize];
            msg[2 * i + 1] = HEX[(b & 15) as usize];
        }
    } else {
        put_words(msg, words, 0);
    }
}

/// [`write`], then mask the whole payload with `mask` (a client's frame). A binary payload is
/// masked first and its stamp written already masked: masking after the stamp reads back, as
/// vectors, the stamp's fresh word stores, and that read stalled on store forwarding (a third
/// of a flood's message-building time).
pub fn write_masked(msg: &mut [u8], st: Stamp, text: bool, mask: [u8; 4]) {
    if text {
        write(msg, st, true);
        frame::apply_mask(msg, mask, 0);
    } else {
        frame::apply_mask(msg, mask, 0);
        put_words(msg, stamp_words(st, msg.len()), frame::mask_word(mask, 0));
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
/// corrupted: too short, not hex where hex belongs, a checksum mismatch, or a filler byte
/// that is not the pattern's.
pub fn read(msg: &[u8], text: bool) -> Option<Stamp> {
    let hl = min_size(text);
    if msg.len() < hl {
        return None;
    }
    let mut hex = [0u8; BINARY_STAMP_LEN];
    let raw: &[u8] = if text {
        for (i, r) in hex.iter_mut().enumerate() {
            *r = unhex(msg[2 * i])? << 4 | unhex(msg[2 * i + 1])?;
        }
        &hex
    } else {
        &msg[..BINARY_STAMP_LEN]
    };
    let u64_at = |i: usize| u64::from_le_bytes(raw[i..i + 8].try_into().expect("8 bytes"));
    let u32_at = |i: usize| u32::from_le_bytes(raw[i..i + 4].try_into().expect("4 bytes"));
    let (seq, intended_ns, delay) = (u64_at(0), u64_at(8), u32_at(16));
    if crc(seq, intended_ns, delay, msg.len()) != u32_at(20) || !is_filler(&msg[hl..], hl) {
        return None;
    }
    Some(Stamp {
        seq,
        intended_ns,
        delay_ns: decode_delay(delay),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_write_equals_write_then_mask() {
        for text in [false, true] {
            for size in [min_size(text), 64, 1000] {
                for (k, key) in [[1u8, 2, 3, 4], [0xff, 0, 0x80, 7], [0, 0, 0, 0]]
                    .into_iter()
                    .enumerate()
                {
                    let st = Stamp {
                        seq: 7 + k as u64,
                        intended_ns: 1 << 40,
                        delay_ns: 123_456,
                    };
                    let mut want = template(size);
                    write(&mut want, st, text);
                    frame::apply_mask(&mut want, key, 0);
                    let mut got = template(size);
                    write_masked(&mut got, st, text, key);
                    assert_eq!(got, want, "text {text}, size {size}, key {key:?}");
                    frame::apply_mask(&mut got, key, 0);
                    assert_eq!(read(&got, text), Some(st));
                }
            }
        }
    }

    #[test]
    fn stamps_roundtrip_in_both_encodings() {
        for text in [false, true] {
            for size in [min_size(text), 64, 1000, 1 << 20] {
                let mut m = template(size);
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
            let mut m = template(100);
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
    fn a_changed_filler_byte_is_caught_anywhere_in_a_long_message() {
        // The filler is compared in slices of the repeated pattern: check the slice edges too.
        let mut m = template(5_000);
        let st = Stamp {
            seq: 1,
            intended_ns: 2,
            delay_ns: 3,
        };
        write(&mut m, st, false);
        assert_eq!(read(&m, false), Some(st));
        for i in [24, 25, 1_139, 1_140, 1_141, 2_255, 2_256, 4_999] {
            let mut c = m.clone();
            c[i] ^= 0x20;
            assert_eq!(read(&c, false), None, "byte {i}");
        }
        // Cut short or padded (with filler), it is not the message that was sent either.
        assert_eq!(read(&m[..4_000], false), None);
        let mut longer = template(5_001);
        longer[..5_000].copy_from_slice(&m);
        assert_eq!(read(&longer, false), None);
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
        let mut m = template(64);
        let st = Stamp {
            seq: 1,
            intended_ns: 10 * s,
            delay_ns: 5 * s,
        };
        write(&mut m, st, false);
        assert_eq!(read(&m, false), Some(st));
    }

    #[test]
    fn the_crc_instruction_and_the_table_agree() {
        // The standard CRC-32C check value: "123456789" gives 0xE3069283.
        assert_eq!(crc32c_table(*b"123456789"), 0xE306_9283);
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("sse4.2") {
            let mut x = 0x9E37_79B9_7F4A_7C15u64;
            for _ in 0..1000 {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                let w = [x, x.rotate_left(17), x >> 32, x.rotate_left(40) & 0xffff];
                let bytes = w.iter().flat_map(|x| x.to_le_bytes());
                // SAFETY: SSE 4.2 is there, checked above.
                assert_eq!(unsafe { crc32c_sse42(w) }, crc32c_table(bytes), "{w:?}");
            }
        }
    }

    #[test]
    fn short_messages_are_corrupt() {
        assert_eq!(read(&[0u8; 23], false), None);
        assert_eq!(read(b"", true), None);
    }
}
