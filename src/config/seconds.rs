//! Durations in summary.json and scenario dumps: seconds as a float, read back to the nearest
//! nanosecond. Used with `#[serde(with = "secs")]` and `#[serde(with = "opt_secs")]`.

/// Durations as seconds; read back to the nearest nanosecond (so `0.3` is 300 ms exactly).
pub mod secs {
    use serde::Deserialize;

    pub fn serialize<S: serde::Serializer>(d: &std::time::Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn from_secs<E: serde::de::Error>(x: f64) -> Result<std::time::Duration, E> {
        if !(x.is_finite() && x >= 0.0) {
            return Err(E::custom(format!("{x} is not a duration in seconds")));
        }
        Ok(std::time::Duration::from_nanos((x * 1e9).round() as u64))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<std::time::Duration, D::Error> {
        from_secs(f64::deserialize(d)?)
    }
}

pub mod opt_secs {
    use serde::Deserialize;

    pub fn serialize<S: serde::Serializer>(d: &Option<std::time::Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_f64(d.as_secs_f64()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<std::time::Duration>, D::Error> {
        Option::<f64>::deserialize(d)?.map(super::secs::from_secs).transpose()
    }
}
