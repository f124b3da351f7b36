//! A histogram in a results file: base64 of its HdrHistogram V2-deflate encoding (what
//! `hdrhistogram` libraries in other languages read), used as `#[serde(with = "blob")]` on the
//! recorder's histograms so that totals.json holds them exactly.

use base64::Engine;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde::Deserialize;

pub fn encode(h: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    // Encoding into memory only fails on a histogram too large to describe, which ours are not.
    let _ = V2DeflateSerializer::new().serialize(h, &mut bytes);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The histogram, re-bounded as the run's are ([`super::new_histogram`]) so that they add
/// without resizing; the error says what is wrong with the text.
pub fn decode(text: &str) -> Result<Histogram<u64>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| format!("a histogram is not base64: {e}"))?;
    let h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut std::io::Cursor::new(bytes))
        .map_err(|e| format!("a histogram does not decode: {e:?}"))?;
    let mut out = super::new_histogram();
    out.add(&h)
        .map_err(|e| format!("a histogram holds values out of range: {e:?}"))?;
    Ok(out)
}

pub fn serialize<S: serde::Serializer>(h: &Histogram<u64>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&encode(h))
}

pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Histogram<u64>, D::Error> {
    decode(&String::deserialize(d)?).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_survive_the_file_exactly() {
        let mut h = crate::metrics::new_histogram();
        for v in [1u64, 999, 1_000_000, 3_600_000_000_000, 42_424_242] {
            h.record(v).unwrap();
        }
        assert_eq!(decode(&encode(&h)).unwrap(), h);
        assert!(decode("not base64!").unwrap_err().contains("base64"));
        assert!(decode("AAAA").unwrap_err().contains("does not decode"));
    }
}
