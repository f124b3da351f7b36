//! Per-connection accounting of echoed sequence numbers: duplicates, reordering
//! and gaps, in 24 bytes per connection.
//!
//! A 64-bit window remembers which of the last 64 sequence numbers below the
//! highest one seen have arrived. A number older than the window cannot be told
//! apart from a duplicate and is counted as out of order.

/// What one echoed sequence number turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// The next one expected, or a later one (a gap opened).
    InOrder,
    /// Filled a gap (arrived after a higher number).
    OutOfOrder,
    Duplicate,
    /// Claims a number we never sent: the stamp was valid but the echo is not ours.
    Unsent,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SeqTracker {
    /// One past the highest sequence number received.
    next: u64,
    /// Bit i set: `next - 1 - i` was received.
    window: u64,
    /// Distinct sequence numbers received.
    pub unique: u64,
}

impl SeqTracker {
    /// Record `seq`; `sent` is how many messages this connection has sent (seqs 0..sent).
    pub fn arrive(&mut self, seq: u64, sent: u64) -> Arrival {
        if seq >= sent {
            return Arrival::Unsent;
        }
        if seq >= self.next {
            let shift = seq - self.next + 1;
            self.window = if shift >= 64 { 0 } else { self.window << shift };
            self.window |= 1;
            self.next = seq + 1;
            self.unique += 1;
            return Arrival::InOrder;
        }
        let age = self.next - 1 - seq;
        if age >= 64 {
            self.unique += 1;
            return Arrival::OutOfOrder;
        }
        let bit = 1u64 << age;
        if self.window & bit != 0 {
            Arrival::Duplicate
        } else {
            self.window |= bit;
            self.unique += 1;
            Arrival::OutOfOrder
        }
    }

    /// Messages sent and not (yet) echoed.
    pub fn outstanding(&self, sent: u64) -> u64 {
        sent.saturating_sub(self.unique)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Arrival::*;

    #[test]
    fn table() {
        let rows: &[(&[u64], &[Arrival], u64)] = &[
            (&[0, 1, 2, 3], &[InOrder, InOrder, InOrder, InOrder], 4),
            (&[0, 0], &[InOrder, Duplicate], 1),
            (&[1, 0], &[InOrder, OutOfOrder], 2),
            (
                &[0, 2, 1, 1, 2],
                &[InOrder, InOrder, OutOfOrder, Duplicate, Duplicate],
                3,
            ),
            (
                &[0, 100, 50, 36, 35],
                &[InOrder, InOrder, OutOfOrder, OutOfOrder, OutOfOrder],
                5,
            ),
            (&[999], &[Unsent], 0),
        ];
        for (seqs, want, unique) in rows {
            let mut t = SeqTracker::default();
            let got: Vec<Arrival> = seqs.iter().map(|&s| t.arrive(s, 200)).collect();
            assert_eq!(&got, want, "seqs {seqs:?}");
            assert_eq!(t.unique, *unique, "seqs {seqs:?}");
        }
    }

    #[test]
    fn gaps_stay_outstanding() {
        let mut t = SeqTracker::default();
        for s in [0, 1, 3, 4] {
            t.arrive(s, 5);
        }
        assert_eq!(t.outstanding(5), 1);
        assert_eq!(t.outstanding(0), 0);
    }
}
