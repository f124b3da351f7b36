//! Reading figures out of a summary held as JSON (a run just finished, or a saved
//! summary.json): dotted paths, with missing fields as `None` so that older or
//! partial summaries still render.

use serde_json::Value;

/// The value at a dotted path (`latency_us.corrected.p99`), `Null` when absent.
pub fn at<'a>(v: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(v, |v, k| match v {
        Value::Object(m) => m.get(k).unwrap_or(&Value::Null),
        Value::Array(a) => k.parse::<usize>().ok().and_then(|i| a.get(i)).unwrap_or(&Value::Null),
        _ => &Value::Null,
    })
}

pub fn num(v: &Value, path: &str) -> Option<f64> {
    at(v, path).as_f64()
}

/// A count (0 when absent).
pub fn count(v: &Value, path: &str) -> u64 {
    let x = at(v, path);
    x.as_u64()
        .or_else(|| x.as_f64().map(|f| f.max(0.0) as u64))
        .unwrap_or(0)
}

pub fn text<'a>(v: &'a Value, path: &str) -> &'a str {
    at(v, path).as_str().unwrap_or("")
}

pub fn list<'a>(v: &'a Value, path: &str) -> &'a [Value] {
    at(v, path).as_array().map_or(&[], |a| a.as_slice())
}

/// (key, count) pairs of an object of counts, in the object's order.
pub fn counts(v: &Value, path: &str) -> Vec<(String, u64)> {
    match at(v, path) {
        Value::Object(m) => m.iter().map(|(k, n)| (k.clone(), n.as_u64().unwrap_or(0))).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_numbers() {
        let v: Value = serde_json::json!({"a": {"b": [1, {"c": 2.5}]}, "n": null});
        assert_eq!(num(&v, "a.b.1.c"), Some(2.5));
        assert_eq!(count(&v, "a.b.0"), 1);
        assert_eq!(num(&v, "a.x.y"), None);
        assert_eq!(count(&v, "n"), 0);
    }
}
