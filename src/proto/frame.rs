//! WebSocket frame codec (RFC 6455 §5) for the hot path: headers are encoded
//! into and parsed from caller-owned buffers, payloads are masked in place.
//! Nothing here allocates.

use std::fmt;

/// Largest frame header: 2 bytes + 8-byte extended length + 4-byte mask key.
pub const MAX_HEADER_LEN: usize = 14;

/// Frame opcodes (RFC 6455 §5.2). Only these six are legal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum OpCode {
    Continuation = 0x0,
    Text = 0x1,
    Binary = 0x2,
    Close = 0x8,
    Ping = 0x9,
    Pong = 0xA,
}

impl OpCode {
    fn from_u8(b: u8) -> Option<OpCode> {
        Some(match b {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            _ => return None,
        })
    }

    /// Control frames (close, ping, pong) may not be fragmented and carry at most 125 bytes.
    pub fn is_control(self) -> bool {
        (self as u8) & 0x8 != 0
    }
}

/// A parsed frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub fin: bool,
    /// RSV1: a compressed message (permessage-deflate), only where it was negotiated.
    pub rsv1: bool,
    pub opcode: OpCode,
    /// Mask key, present on client-to-server frames.
    pub mask: Option<[u8; 4]>,
    pub payload_len: u64,
    /// Bytes the header occupies on the wire.
    pub header_len: usize,
}

impl Header {
    /// Header plus payload, in bytes.
    pub fn frame_len(&self) -> u64 {
        self.header_len as u64 + self.payload_len
    }
}

/// Why a byte sequence is not an acceptable frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// RSV1-3 set, but no extension was negotiated.
    ReservedBits(u8),
    /// Opcode 0x3-0x7 or 0xB-0xF.
    ReservedOpcode(u8),
    /// A control frame with more than 125 bytes or without FIN.
    BadControlFrame,
    /// The 64-bit length has its most significant bit set (RFC 6455 §5.2).
    InvalidLength,
    /// The announced payload exceeds the configured maximum; checked before anything is allocated.
    TooLarge { len: u64, max: u64 },
    /// A server sent a masked frame, or a client an unmasked one.
    Masking { expected_masked: bool },
}

impl FrameError {
    /// The close code a peer should receive for this violation (RFC 6455 §7.4.1).
    pub fn close_code(self) -> u16 {
        match self {
            FrameError::TooLarge { .. } => 1009,
            _ => 1002,
        }
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::ReservedBits(b) => write!(f, "reserved bits set (0x{b:02x}) with no extension negotiated"),
            FrameError::ReservedOpcode(o) => write!(f, "reserved opcode 0x{o:x}"),
            FrameError::BadControlFrame => write!(f, "control frame fragmented or longer than 125 bytes"),
            FrameError::InvalidLength => write!(f, "64-bit payload length with the top bit set"),
            FrameError::TooLarge { len, max } => {
                write!(f, "frame of {len} bytes exceeds the limit of {max} bytes (--max-frame)")
            }
            FrameError::Masking { expected_masked: true } => write!(f, "client frame is not masked"),
            FrameError::Masking { expected_masked: false } => write!(f, "server frame is masked"),
        }
    }
}

/// Parse a frame header from the start of `buf`.
///
/// Returns `Ok(None)` when `buf` does not yet hold the whole header. The payload
/// length is checked against `max_payload` here, before any caller allocates.
#[inline]
pub fn parse_header(buf: &[u8], expect_masked: bool, max_payload: u64) -> Result<Option<Header>, FrameError> {
    parse_header_ext(buf, expect_masked, max_payload, false)
}

/// [`parse_header`] where permessage-deflate was negotiated (`deflate`): RSV1 may then be set
/// on the first frame of a data message.
#[inline]
pub fn parse_header_ext(
    buf: &[u8],
    expect_masked: bool,
    max_payload: u64,
    deflate: bool,
) -> Result<Option<Header>, FrameError> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let b0 = buf[0];
    let b1 = buf[1];
    let opcode = OpCode::from_u8(b0 & 0x0F).ok_or(FrameError::ReservedOpcode(b0 & 0x0F))?;
    let rsv1_ok = deflate && matches!(opcode, OpCode::Text | OpCode::Binary);
    let reserved = b0 & if rsv1_ok { 0x30 } else { 0x70 };
    if reserved != 0 {
        return Err(FrameError::ReservedBits(reserved));
    }
    let fin = b0 & 0x80 != 0;
    let masked = b1 & 0x80 != 0;
    if masked != expect_masked {
        return Err(FrameError::Masking {
            expected_masked: expect_masked,
        });
    }
    let (payload_len, mut pos) = match b1 & 0x7F {
        126 => {
            if buf.len() < 4 {
                return Ok(None);
            }
            (u16::from_be_bytes([buf[2], buf[3]]) as u64, 4)
        }
        127 => {
            if buf.len() < 10 {
                return Ok(None);
            }
            let len = u64::from_be_bytes(buf[2..10].try_into().expect("8 bytes"));
            if len >> 63 != 0 {
                return Err(FrameError::InvalidLength);
            }
            (len, 10)
        }
        n => (n as u64, 2),
    };
    if opcode.is_control() && (payload_len > 125 || !fin) {
        return Err(FrameError::BadControlFrame);
    }
    if payload_len > max_payload {
        return Err(FrameError::TooLarge {
            len: payload_len,
            max: max_payload,
        });
    }
    let mask = if masked {
        if buf.len() < pos + 4 {
            return Ok(None);
        }
        let m = [buf[pos], buf[pos + 1], buf[pos + 2], buf[pos + 3]];
        pos += 4;
        Some(m)
    } else {
        None
    };
    Ok(Some(Header {
        fin,
        rsv1: b0 & 0x40 != 0,
        opcode,
        mask,
        payload_len,
        header_len: pos,
    }))
}

/// Append a frame header to `out`. Returns the number of bytes written.
pub fn write_header(out: &mut Vec<u8>, fin: bool, opcode: OpCode, payload_len: u64, mask: Option<[u8; 4]>) -> usize {
    let start = out.len();
    out.push(if fin { 0x80 } else { 0 } | opcode as u8);
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    if payload_len < 126 {
        out.push(mask_bit | payload_len as u8);
    } else if payload_len <= u16::MAX as u64 {
        out.push(mask_bit | 126);
        out.extend_from_slice(&(payload_len as u16).to_be_bytes());
    } else {
        out.push(mask_bit | 127);
        out.extend_from_slice(&payload_len.to_be_bytes());
    }
    if let Some(m) = mask {
        out.extend_from_slice(&m);
    }
    out.len() - start
}

/// Append a whole frame (header and payload, masked if `mask` is given) to `out`.
pub fn write_frame(out: &mut Vec<u8>, fin: bool, opcode: OpCode, payload: &[u8], mask: Option<[u8; 4]>) {
    write_header(out, fin, opcode, payload.len() as u64, mask);
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(m) = mask {
        apply_mask(&mut out[start..], m, 0);
    }
}

/// The mask key as it lines up with payload byte `offset` (rotated by `offset % 4`), twice in
/// a 64-bit little-endian word: XOR a word read from that offset with it to mask those 8 bytes.
#[inline]
pub fn mask_word(mask: [u8; 4], offset: usize) -> u64 {
    u64::from(u32::from_le_bytes(mask).rotate_right(8 * (offset % 4) as u32)) * 0x1_0000_0001
}

/// XOR `data` with the mask key, starting at byte `offset` of the payload
/// (so a payload that arrives in pieces can be unmasked piece by piece).
#[inline]
pub fn apply_mask(data: &mut [u8], mask: [u8; 4], offset: usize) {
    // The key is built in a register: a key array written to the stack byte by byte and read
    // back as a vector stalled on store forwarding, and at 64 B that stall was most of the
    // cost. The word loop is turned into vector XORs by the compiler.
    let k = mask_word(mask, offset);
    let mut words = data.chunks_exact_mut(8);
    for w in &mut words {
        let x = u64::from_le_bytes((&*w).try_into().expect("8 bytes")) ^ k;
        w.copy_from_slice(&x.to_le_bytes());
    }
    for (i, b) in words.into_remainder().iter_mut().enumerate() {
        *b ^= (k >> (8 * i)) as u8;
    }
}

/// Close code and reason from a close frame's (unmasked) payload.
pub fn parse_close(payload: &[u8]) -> (Option<u16>, &[u8]) {
    if payload.len() >= 2 {
        (Some(u16::from_be_bytes([payload[0], payload[1]])), &payload[2..])
    } else {
        (None, &[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(len: usize, mask: Option<[u8; 4]>) {
        let payload: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
        let mut out = Vec::new();
        write_frame(&mut out, true, OpCode::Binary, &payload, mask);
        let h = parse_header(&out, mask.is_some(), u64::MAX >> 1).unwrap().unwrap();
        assert_eq!(h.payload_len, len as u64);
        assert_eq!(h.frame_len(), out.len() as u64);
        assert_eq!(h.mask, mask);
        let mut body = out[h.header_len..].to_vec();
        if let Some(m) = h.mask {
            apply_mask(&mut body, m, 0);
        }
        assert_eq!(body, payload, "len {len}");
    }

    #[test]
    fn roundtrip_boundary_sizes() {
        for len in [0, 1, 7, 8, 9, 125, 126, 127, 65_535, 65_536, 1 << 20] {
            roundtrip(len, None);
            roundtrip(len, Some([0xde, 0xad, 0xbe, 0xef]));
        }
    }

    #[test]
    fn header_lengths_follow_the_rfc() {
        let cases = [(0u64, 2usize), (125, 2), (126, 4), (65_535, 4), (65_536, 10)];
        for (len, hl) in cases {
            let mut out = Vec::new();
            assert_eq!(write_header(&mut out, true, OpCode::Binary, len, None), hl);
            assert_eq!(
                write_header(&mut Vec::new(), true, OpCode::Binary, len, Some([1, 2, 3, 4])),
                hl + 4
            );
        }
    }

    #[test]
    fn incomplete_headers_wait_for_more() {
        let mut out = Vec::new();
        write_header(&mut out, true, OpCode::Binary, 70_000, Some([1, 2, 3, 4]));
        for cut in 0..out.len() {
            assert_eq!(parse_header(&out[..cut], true, u64::MAX >> 1), Ok(None), "cut {cut}");
        }
    }

    #[test]
    fn mask_in_pieces_equals_mask_whole() {
        let data: Vec<u8> = (0..100u8).collect();
        let key = [9, 8, 7, 6];
        let mut whole = data.clone();
        apply_mask(&mut whole, key, 0);
        for split in [1, 3, 5, 8, 13, 64, 99] {
            let mut pieces = data.clone();
            let (a, b) = pieces.split_at_mut(split);
            apply_mask(a, key, 0);
            apply_mask(b, key, split);
            assert_eq!(pieces, whole, "split {split}");
        }
    }

    #[test]
    fn violations_are_rejected() {
        let max = 16 << 20;
        // reserved bits, reserved opcode
        assert_eq!(
            parse_header(&[0xC2, 0x00], false, max),
            Err(FrameError::ReservedBits(0x40))
        );
        assert_eq!(
            parse_header(&[0x83, 0x00], false, max),
            Err(FrameError::ReservedOpcode(3))
        );
        // control frame too long / fragmented
        assert_eq!(
            parse_header(&[0x89, 126, 0, 200], false, max),
            Err(FrameError::BadControlFrame)
        );
        assert_eq!(parse_header(&[0x09, 0], false, max), Err(FrameError::BadControlFrame));
        // masking mismatch
        assert_eq!(
            parse_header(&[0x82, 0x00], true, max),
            Err(FrameError::Masking { expected_masked: true })
        );
        assert_eq!(
            parse_header(&[0x82, 0x80, 1, 2, 3, 4], false, max),
            Err(FrameError::Masking { expected_masked: false })
        );
        // a 2^62-byte frame is refused before anything is allocated
        let mut huge = vec![0x82, 127];
        huge.extend_from_slice(&(1u64 << 62).to_be_bytes());
        assert_eq!(
            parse_header(&huge, false, max),
            Err(FrameError::TooLarge { len: 1 << 62, max })
        );
        let mut bad = vec![0x82, 127];
        bad.extend_from_slice(&(1u64 << 63).to_be_bytes());
        assert_eq!(parse_header(&bad, false, max), Err(FrameError::InvalidLength));
    }

    #[test]
    fn close_payload() {
        assert_eq!(parse_close(&[0x03, 0xE8, b'o', b'k']), (Some(1000), &b"ok"[..]));
        assert_eq!(parse_close(&[]), (None, &[][..]));
    }
}
