//! What the kernel knows about this host's wall clock (adjtimex, read only): whether NTP keeps
//! it synchronized, the offset it is still correcting, and its error estimates. Shards on
//! several hosts start at one wall-clock time, so their time lines line up only as well as
//! their clocks agree; each shard records this next to its start.

/// The kernel's clock discipline state, from `adjtimex(2)` with no modes (read only; needs no
/// privilege). Times in nanoseconds or microseconds as named.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClockStatus {
    /// Not flagged unsynchronized (`STA_UNSYNC` clear and the state is not `TIME_ERROR`).
    pub synchronized: bool,
    /// The offset the kernel is still slewing away, ns (positive: the clock is behind).
    pub offset_ns: i64,
    /// The kernel's estimated and maximum error of the clock, µs (as set by the NTP daemon).
    pub est_error_us: i64,
    pub max_error_us: i64,
}

/// Read the clock status; `None` where adjtimex is not allowed (some sandboxes).
pub fn status() -> Option<ClockStatus> {
    // SAFETY: a zeroed timex with modes 0 only reads the kernel's state into it.
    let mut tx: libc::timex = unsafe { std::mem::zeroed() };
    let state = unsafe { libc::adjtimex(&mut tx) };
    if state < 0 {
        return None;
    }
    let nano = tx.status & libc::STA_NANO != 0;
    Some(ClockStatus {
        synchronized: tx.status & libc::STA_UNSYNC == 0 && state != libc::TIME_ERROR,
        offset_ns: if nano {
            tx.offset as i64
        } else {
            tx.offset as i64 * 1000
        },
        est_error_us: tx.esterror as i64,
        max_error_us: tx.maxerror as i64,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_clock_status_reads_without_privilege() {
        // Where the sandbox forbids it the answer is None, never a panic; here it is allowed.
        if let Some(s) = super::status() {
            assert!(s.max_error_us >= 0 && s.est_error_us >= 0, "{s:?}");
        }
    }
}
