//! Measurements, not tests: run with
//! `cargo test --release -p weir --test all measure -- --ignored --nocapture`.
//! They print numbers and assert only that the work was done.

use std::sync::Arc;
use std::time::Instant;

use weir::record::{Batch, Record};
use weir::runtime::{GuestEnv, Limits, Plugin, PluginInstance, Role};

use crate::common::*;

/// GTFS-rt decoding through the component: a 5,000-vehicle feed
/// (`WEIR_GTFS_FEED`, a serialized FeedMessage) decoded 20 times.
#[test]
#[ignore = "measurement; needs WEIR_GTFS_FEED"]
fn gtfs_rt_entities_per_second_through_the_component() {
    let Ok(path) = std::env::var("WEIR_GTFS_FEED") else {
        eprintln!("set WEIR_GTFS_FEED to a FeedMessage file");
        return;
    };
    let feed = std::fs::read(&path).expect("feed");
    let plugin = Plugin::load(&runtime(), &plugin("gtfs-rt"), Role::Transform).expect("loads");
    let limits = Limits {
        memory_bytes: 512 << 20,
        call_timeout_ms: 60_000,
    };
    let mut inst = PluginInstance::start(
        Arc::new(plugin),
        "measure",
        r#"{"skip_stale": false}"#.into(),
        limits,
        GuestEnv::Real,
    )
    .expect("starts");
    let record = Record {
        key: None,
        value: Some(feed.clone()),
        headers: vec![],
        timestamp_ms: 0,
        origin: None,
    };
    let rounds = 20;
    let started = Instant::now();
    let mut entities = 0;
    for _ in 0..rounds {
        let out = inst
            .process(Arc::clone(
                Batch::from_records(std::slice::from_ref(&record)).columns(),
            ))
            .expect("decodes");
        entities += out.output.len();
    }
    let secs = started.elapsed().as_secs_f64();
    assert!(entities > 0);
    println!(
        "gtfs-rt component: {} bytes per feed, {} entities in {:.3} s = {:.0} entities/s ({:.1} ms per feed)",
        feed.len(),
        entities,
        secs,
        entities as f64 / secs,
        secs * 1e3 / rounds as f64
    );
}
