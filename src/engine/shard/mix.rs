//! The message mix of one core: which type each message is and how big, drawn
//! from the scenario's weights and size distributions with the core's own
//! random numbers (no allocation, no locks).

use crate::config::scenario::{MessageKind, MessageType, SizeDist};
use crate::proto::frame::OpCode;
use crate::proto::payload;

/// The type index travels in the top byte of the stamp's sequence number.
pub const TYPE_SHIFT: u32 = 56;
/// Sequence numbers proper use the low 56 bits.
pub const SEQ_MASK: u64 = (1 << TYPE_SHIFT) - 1;

#[derive(Debug, Clone)]
pub struct Mix {
    pub types: Vec<MessageType>,
    /// Running sums of the weights: type `i` is picked for `r < cum[i]`.
    cum: Vec<u64>,
    /// Payload filler, as long as the largest message.
    pub template: Box<[u8]>,
}

impl Mix {
    pub fn new(types: &[MessageType]) -> Mix {
        let mut total = 0u64;
        let cum = types
            .iter()
            .map(|t| {
                total += t.weight as u64;
                total
            })
            .collect();
        let max = types.iter().map(|t| t.size.max()).max().unwrap_or(0);
        Mix {
            types: types.to_vec(),
            cum,
            // ASCII filler: valid in text frames, and as good as any in binary ones.
            template: payload::template(max).into_boxed_slice(),
        }
    }

    /// A type index from a uniform 32-bit random number.
    #[inline]
    pub fn pick(&self, r: u32) -> usize {
        if self.cum.len() <= 1 {
            return 0;
        }
        let total = *self.cum.last().expect("at least one type");
        let x = (r as u64 * total) >> 32;
        self.cum.iter().position(|&c| x < c).unwrap_or(self.cum.len() - 1)
    }

    /// A payload size for type `t` from a uniform 32-bit random number.
    #[inline]
    pub fn size(&self, t: usize, r: u32) -> usize {
        match &self.types[t].size {
            SizeDist::Fixed(n) => *n,
            SizeDist::Uniform { min, max } => min + ((r as u64 * (max - min + 1) as u64) >> 32) as usize,
            SizeDist::List(l) => l[((r as u64 * l.len() as u64) >> 32) as usize],
        }
    }

    pub fn kind(&self, t: usize) -> MessageKind {
        self.types[t].kind
    }

    /// The frame opcode a type is sent with.
    pub fn opcode(&self, t: usize) -> OpCode {
        match self.types[t].kind {
            MessageKind::Binary => OpCode::Binary,
            MessageKind::Text => OpCode::Text,
            MessageKind::Ping => OpCode::Ping,
        }
    }

    /// The opcode its answer must have.
    pub fn reply_opcode(&self, t: usize) -> OpCode {
        match self.types[t].kind {
            MessageKind::Ping => OpCode::Pong,
            _ => self.opcode(t),
        }
    }

    /// Are the messages wsload's stamped payloads (not templates)?
    pub fn stamped(&self) -> bool {
        self.types.iter().all(|t| t.templates.is_empty())
    }

    pub fn is_text(&self, t: usize) -> bool {
        self.types[t].kind == MessageKind::Text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(weight: u32, kind: MessageKind, size: SizeDist) -> MessageType {
        MessageType {
            name: format!("w{weight}"),
            weight,
            kind,
            size,
            templates: vec![],
        }
    }

    #[test]
    fn picks_follow_the_weights() {
        let mix = Mix::new(&[
            ty(3, MessageKind::Binary, SizeDist::Fixed(24)),
            ty(0, MessageKind::Text, SizeDist::Fixed(48)),
            ty(1, MessageKind::Ping, SizeDist::Fixed(30)),
        ]);
        let mut counts = [0u32; 3];
        // An even sweep of the 32-bit range stands in for uniform random numbers.
        for i in 0..4000u64 {
            counts[mix.pick((i * (u32::MAX as u64 + 1) / 4000) as u32)] += 1;
        }
        assert_eq!(counts, [3000, 0, 1000]);
        assert_eq!(mix.pick(u32::MAX), 2);
        assert_eq!(mix.template.len(), 48);
        assert_eq!(mix.reply_opcode(2), OpCode::Pong);
    }

    #[test]
    fn sizes_stay_in_their_distribution() {
        let mix = Mix::new(&[
            ty(1, MessageKind::Binary, SizeDist::Uniform { min: 24, max: 26 }),
            ty(1, MessageKind::Binary, SizeDist::List(vec![100, 30])),
        ]);
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..300u64 {
            let r = (i * (u32::MAX as u64 + 1) / 300) as u32;
            seen.insert(mix.size(0, r));
            assert!([100, 30].contains(&mix.size(1, r)));
        }
        assert_eq!(seen.into_iter().collect::<Vec<_>>(), vec![24, 25, 26]);
        assert_eq!(mix.size(0, u32::MAX), 26);
    }
}
