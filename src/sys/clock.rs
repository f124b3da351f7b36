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
    Some(decode(
        state,
        tx.status,
        tx.offset as i64,
        tx.esterror as i64,
        tx.maxerror as i64,
    ))
}

/// The status from adjtimex's return value (the clock state) and its timex fields: `offset`
/// is in ns when `STA_NANO` is set in `status`, else in µs.
fn decode(state: i32, status: i32, offset: i64, est_error_us: i64, max_error_us: i64) -> ClockStatus {
    ClockStatus {
        synchronized: status & libc::STA_UNSYNC == 0 && state != libc::TIME_ERROR,
        offset_ns: if status & libc::STA_NANO != 0 {
            offset
        } else {
            offset * 1000
        },
        est_error_us,
        max_error_us,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel caps its error estimates at NTP_PHASE_LIMIT, 16 s.
    const PHASE_LIMIT_US: i64 = 16_000_000;

    #[test]
    fn the_clock_status_reads_without_privilege() {
        // adjtimex(2) with no modes only reads, and Linux allows that to anyone.
        let s = status().expect("adjtimex with modes 0 is refused here: the shards' clock notes are lost");
        assert!((0..=PHASE_LIMIT_US).contains(&s.max_error_us), "{s:?}");
        assert!((0..=PHASE_LIMIT_US).contains(&s.est_error_us), "{s:?}");
    }

    #[test]
    fn decode_reads_the_sync_flags_and_the_offset_unit() {
        use libc::{STA_NANO, STA_PLL, STA_UNSYNC, TIME_ERROR, TIME_OK};
        // (state, status, offset) → (synchronized, offset_ns)
        let rows = [
            (TIME_OK, STA_PLL, 250, true, 250_000),
            (TIME_OK, STA_PLL | STA_NANO, 250, true, 250),
            (TIME_OK, STA_NANO, -7, true, -7),
            (TIME_OK, STA_UNSYNC, 0, false, 0),
            (TIME_ERROR, STA_PLL, 3, false, 3_000),
            (TIME_ERROR, STA_UNSYNC | STA_NANO, 0, false, 0),
        ];
        for (state, status, offset, synced, ns) in rows {
            let d = decode(state, status, offset, 10, 20);
            assert_eq!(
                (d.synchronized, d.offset_ns, d.est_error_us, d.max_error_us),
                (synced, ns, 10, 20),
                "state {state} status {status:#x} offset {offset}"
            );
        }
    }
}
