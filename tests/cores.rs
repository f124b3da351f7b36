//! Several client cores: each owns a share of the connections, they start the load
//! together, and the aggregator merges their snapshots into one summary.

mod common;

use common::{run_wsload, spawn_wsload_server};

#[test]
fn two_client_cores_share_an_uneven_count_and_merge_exactly() {
    let server = spawn_wsload_server();
    let o = run_wsload(&[
        "run",
        &server.url(),
        "-c",
        "21",
        "--rate",
        "10",
        "-d",
        "1s",
        "--drain",
        "2s",
        "--cores",
        "0,1",
        "--interval",
        "200ms",
        "-q",
        "--json",
    ]);
    o.assert_clean();
    assert_eq!(o.num("/connections/established"), 21);
    // Every connection sends on its own schedule: 10/s for 1 s is exactly 10 messages each.
    assert_eq!(o.num("/messages/sent"), 210);
    let s = o.summary();
    assert_eq!(
        s["latency_us"]["corrected"]["count"].as_u64(),
        Some(o.num("/messages/received"))
    );
    assert!(
        s["timeline"].as_array().is_some_and(|t| t.len() >= 3),
        "a point per 200 ms interval"
    );
}
