//! Frame codec cost per operation (harness-less): encode + mask a stamped
//! message, and parse + verify an echo, at the sizes our tests use.
//! Run: `cargo bench --bench codec`.

use std::hint::black_box;
use std::time::Instant;

use wsload::proto::frame::{self, OpCode};
use wsload::proto::payload::{self, Stamp};

fn bench(name: &str, iters: u64, mut f: impl FnMut(u64)) {
    // Warm up, then take the best of 5 batches (the machine is shared).
    for i in 0..iters / 10 {
        f(i);
    }
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let t = Instant::now();
        for i in 0..iters {
            f(i);
        }
        best = best.min(t.elapsed().as_nanos() as f64 / iters as f64);
    }
    println!("{name:<44} {best:>10.1} ns/op  {:>8.2} M ops/s", 1e3 / best);
}

fn main() {
    for size in [64usize, 1024, 65_536] {
        let template = payload::template(size);
        let mut out = Vec::with_capacity(size + 64);
        let iters = (20_000_000 / size as u64).clamp(2_000, 2_000_000);
        bench(&format!("encode+stamp+mask binary {size} B"), iters, |i| {
            out.clear();
            let mask = (i as u32).wrapping_mul(2_654_435_761).to_le_bytes();
            frame::write_header(&mut out, true, OpCode::Binary, size as u64, Some(mask));
            let start = out.len();
            out.extend_from_slice(&template);
            payload::write(
                &mut out[start..],
                Stamp {
                    seq: i,
                    intended_ns: i * 1000,
                    delay_ns: 5,
                },
                false,
            );
            frame::apply_mask(&mut out[start..], mask, 0);
            black_box(&out);
        });
        // A server frame (unmasked) carrying a stamped payload.
        let mut msg = template.clone();
        payload::write(
            &mut msg,
            Stamp {
                seq: 1,
                intended_ns: 2,
                delay_ns: 3,
            },
            false,
        );
        let mut wire = Vec::new();
        frame::write_frame(&mut wire, true, OpCode::Binary, &msg, None);
        bench(&format!("parse+verify binary {size} B"), iters, |_| {
            let h = frame::parse_header(black_box(&wire), false, 16 << 20).unwrap().unwrap();
            let st = payload::read(&wire[h.header_len..], false);
            black_box(st.unwrap());
        });
    }
    let mut big = payload::template(65_536);
    bench("mask 64 KiB in place", 20_000, |i| {
        frame::apply_mask(&mut big, (i as u32).to_le_bytes(), 0);
        black_box(&big);
    });
    // 64 frames in one buffer, as one read at --in-flight 64 delivers them.
    let mut batch = Vec::new();
    let mut msg = payload::template(64);
    payload::write(
        &mut msg,
        Stamp {
            seq: 1,
            intended_ns: 2,
            delay_ns: 3,
        },
        false,
    );
    for _ in 0..64 {
        frame::write_frame(&mut batch, true, OpCode::Binary, &msg, None);
    }
    bench("parse+verify 64 x 64 B frames in one buffer", 100_000, |_| {
        let mut pos = 0;
        while let Some(h) = frame::parse_header(&batch[pos..], false, 16 << 20).unwrap() {
            black_box(payload::read(
                &batch[pos + h.header_len..pos + h.frame_len() as usize],
                false,
            ));
            pos += h.frame_len() as usize;
        }
    });
}
