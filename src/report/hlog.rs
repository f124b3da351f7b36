//! latency.hlog: the corrected latency of every time-line interval as an
//! HdrHistogram interval log (the format of the Java `HistogramLogWriter`), for
//! `HistogramLogProcessor`, the Python `hdrh` package's `HistogramLogReader` and
//! the plotting tools built on them.
//!
//! Values are in nanoseconds, as recorded: HistogramLogProcessor's default output
//! ratio (1e6) then prints milliseconds. Interval timestamps are seconds on the run's
//! clock (the time line's `t_s`); StartTime and BaseTime are the run's start on the
//! wall clock, so absolute times are BaseTime + timestamp.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use hdrhistogram::serialization::interval_log::IntervalLogWriterBuilder;
use hdrhistogram::serialization::{Deserializer, V2DeflateSerializer};
use hdrhistogram::Histogram;

use crate::aggregate::live::Interval;

/// An interval log being written to `W`: the headers first, then one line per interval.
pub struct LogWriter<W: Write> {
    out: W,
    ser: V2DeflateSerializer,
}

impl<W: Write> LogWriter<W> {
    /// Write the headers; `started_at_unix_s` is the run's start on the wall clock.
    pub fn begin(mut out: W, started_at_unix_s: f64) -> io::Result<LogWriter<W>> {
        let start = std::time::UNIX_EPOCH + Duration::from_secs_f64(started_at_unix_s.max(0.0));
        let mut ser = V2DeflateSerializer::new();
        IntervalLogWriterBuilder::new()
            .add_comment("wsload corrected latency (from the intended send time), one histogram per interval")
            .add_comment("values in nanoseconds; timestamps in seconds since BaseTime (the start of the run)")
            .with_start_time(start)
            .with_base_time(start)
            .begin_log_with(&mut out, &mut ser)?;
        // The legend line that Java's writer puts after the headers (readers skip it).
        out.write_all(b"\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n")?;
        Ok(LogWriter { out, ser })
    }

    /// One interval, `start_s`..`end_s` on the run's clock (a start before 0 counts from 0).
    pub fn write(&mut self, start_s: f64, end_s: f64, h: &Histogram<u64>) -> io::Result<()> {
        let start_s = start_s.max(0.0);
        // A builder without headers writes nothing: it only lends its line writer.
        IntervalLogWriterBuilder::new()
            .begin_log_with(&mut self.out, &mut self.ser)?
            .write_histogram(
                h,
                Duration::from_secs_f64(start_s),
                Duration::from_secs_f64((end_s - start_s).max(0.0)),
                None,
            )
            .map_err(|e| io::Error::other(e.to_string()))
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

/// The interval log, from the intervals the aggregator kept; `started_at_unix_s` is the run's
/// start on the wall clock.
pub fn render(intervals: &[Interval], started_at_unix_s: f64) -> io::Result<Vec<u8>> {
    let mut log = LogWriter::begin(Vec::new(), started_at_unix_s)?;
    let mut de = Deserializer::new();
    for i in intervals {
        let h: Histogram<u64> = de
            .deserialize(&mut io::Cursor::new(&i.bytes))
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{e:?}")))?;
        log.write(i.start_s, i.start_s.max(0.0) + i.length_s, &h)?;
    }
    Ok(log.into_inner())
}

/// latency.hlog written as the run goes, one interval at a time, so that the run keeps none of
/// its histograms (a few KiB each at 10k msg/s) in memory. It goes to a hidden temporary file,
/// renamed into place by [`FileLog::finish`]: a reader never sees half a log.
pub struct FileLog {
    log: LogWriter<io::BufWriter<std::fs::File>>,
    tmp: PathBuf,
    path: PathBuf,
}

impl FileLog {
    pub fn create(dir: &Path, started_at_unix_s: f64) -> io::Result<FileLog> {
        let name = super::format::Format::Hlog.file_name();
        let tmp = dir.join(format!(".{name}.tmp"));
        let file = io::BufWriter::new(std::fs::File::create(&tmp)?);
        Ok(FileLog {
            log: LogWriter::begin(file, started_at_unix_s)?,
            tmp,
            path: dir.join(name),
        })
    }

    pub fn write(&mut self, start_s: f64, end_s: f64, h: &Histogram<u64>) -> io::Result<()> {
        self.log.write(start_s, end_s, h)
    }

    /// Give up (after a write failed): remove the temporary file.
    pub fn discard(self) {
        let _ = std::fs::remove_file(&self.tmp);
    }

    /// Flush and move into place; returns the path of latency.hlog.
    pub fn finish(self) -> io::Result<PathBuf> {
        drop(self.log.into_inner().into_inner().map_err(|e| e.into_error())?);
        std::fs::rename(&self.tmp, &self.path)?;
        Ok(self.path)
    }
}

/// A latency.hlog read back: every interval added into one histogram (nanoseconds), which
/// is the run's whole corrected latency (the last interval holds the drain's echoes).
pub fn read_merged(log: &[u8]) -> Result<Histogram<u64>, String> {
    use base64::Engine;
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    let mut merged = crate::metrics::new_histogram();
    let mut de = Deserializer::new();
    for entry in IntervalLogIterator::new(log) {
        let LogEntry::Interval(i) = entry.map_err(|e| format!("not an HdrHistogram interval log ({e:?})"))? else {
            continue;
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(i.encoded_histogram().trim())
            .map_err(|e| format!("an interval is not base64: {e}"))?;
        let h: Histogram<u64> = de
            .deserialize(&mut io::Cursor::new(bytes))
            .map_err(|e| format!("an interval does not decode: {e:?}"))?;
        merged
            .add(&h)
            .map_err(|e| format!("an interval holds values out of range: {e:?}"))?;
    }
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    use hdrhistogram::serialization::Serializer;

    fn interval(start_s: f64, values: &[u64]) -> Interval {
        let mut h = crate::metrics::new_histogram();
        for v in values {
            h.record(*v).unwrap();
        }
        let mut bytes = Vec::new();
        V2DeflateSerializer::new().serialize(&h, &mut bytes).unwrap();
        Interval {
            start_s,
            length_s: 1.0,
            bytes,
        }
    }

    #[test]
    fn round_trips_through_the_crates_reader() {
        let log = render(
            &[interval(0.0, &[1_000, 2_000]), interval(1.0, &[5_000_000])],
            1_700_000_000.0,
        )
        .unwrap();
        let text = String::from_utf8(log.clone()).unwrap();
        assert!(
            text.contains("#[StartTime: 1700000000.000 (seconds since epoch)]"),
            "{text}"
        );
        assert!(
            text.contains("#[BaseTime: 1700000000.000 (seconds since epoch)]"),
            "{text}"
        );
        let mut merged = crate::metrics::new_histogram();
        let mut n = 0;
        for e in IntervalLogIterator::new(&log) {
            if let LogEntry::Interval(i) = e.unwrap() {
                assert_eq!(i.duration(), Duration::from_secs(1));
                n += 1;
            }
        }
        assert_eq!(n, 2, "{text}");
        // Decode the payloads back as a reader would.
        for line in text.lines().filter(|l| !l.starts_with('#') && !l.starts_with('"')) {
            let payload = line.rsplit(',').next().unwrap();
            let bytes = decode_base64(payload);
            let h: Histogram<u64> = Deserializer::new().deserialize(&mut io::Cursor::new(bytes)).unwrap();
            merged.add(&h).unwrap();
        }
        assert_eq!(merged.len(), 3);
        assert!(merged.max() >= 5_000_000 && merged.max() < 5_010_000);
    }

    #[test]
    fn read_merged_adds_every_interval_and_refuses_garbage() {
        let log = render(
            &[interval(0.0, &[1_000, 2_000]), interval(1.0, &[5_000_000])],
            1_700_000_000.0,
        )
        .unwrap();
        let h = read_merged(&log).unwrap();
        assert_eq!(h.len(), 3);
        assert!(h.max() >= 5_000_000 && h.max() < 5_010_000);
        assert_eq!(read_merged(b"").unwrap().len(), 0);
        assert!(read_merged(b"0.0,1.0,5.0,not-base64!\n").is_err());
    }

    fn decode_base64(s: &str) -> Vec<u8> {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = Vec::new();
        let (mut acc, mut bits) = (0u32, 0);
        for c in s.bytes().filter(|c| *c != b'=') {
            acc = (acc << 6) | A.iter().position(|a| *a == c).unwrap() as u32;
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
                acc &= (1 << bits) - 1;
            }
        }
        out
    }
}
