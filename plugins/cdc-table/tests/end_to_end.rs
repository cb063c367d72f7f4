//! The whole CDC pipeline natively: `cdc-gen` → `cdc-shape` → `cdc-table`, with
//! a restart of every stage in the middle. The table a consumer materializes must
//! equal the generator's own, and no change may fail on the way.

use cdc_gen::CdcGen;
use cdc_model::Row;
use cdc_shape::CdcShape;
use cdc_table::CdcTable;
use weir_sdk::{Aggregator, FlatBatch, Outcome, Source, Transform};

const CHANGES: u32 = 20_000;
const BATCH: u32 = 500;

struct Pipeline {
    gen_: CdcGen,
    shape: CdcShape,
    table: CdcTable,
}

impl Pipeline {
    fn start() -> Pipeline {
        Pipeline {
            gen_: CdcGen::init(r#"{"seed":2026,"initial_rows":300,"max_rows":2000}"#)
                .expect("gen init"),
            shape: CdcShape::init("{}").expect("shape init"),
            table: CdcTable::init(r#"{"last_rows":5}"#).expect("table init"),
        }
    }

    /// One batch through every stage; returns (changes, envelopes, shown rows).
    fn step(&mut self) -> (usize, usize, usize) {
        let mut raw = FlatBatch::default();
        self.gen_.next_batch(BATCH, &mut raw).expect("next_batch");
        let mut shaped = Outcome::default();
        self.shape
            .process(&raw.records().expect("layout"), &mut shaped)
            .expect("process");
        assert!(shaped.failures.is_empty(), "shape: {:?}", shaped.failures);
        let mut applied = Outcome::default();
        self.table
            .update(&shaped.output.records().expect("layout"), &mut applied)
            .expect("update");
        assert!(applied.failures.is_empty(), "table: {:?}", applied.failures);
        let mut report = FlatBatch::default();
        self.table.tick(0, 0, &mut report).expect("tick");
        (raw.len(), shaped.output.len(), applied.output.len())
    }

    fn restart(&mut self) {
        let (g, t) = (self.gen_.snapshot(), self.table.snapshot());
        *self = Pipeline::start();
        self.gen_.restore(&g).expect("gen restore");
        self.table.restore(&t).expect("table restore");
    }
}

fn generator_rows(p: &Pipeline) -> Vec<Row> {
    #[derive(serde::Deserialize)]
    struct Snapshot {
        rows: Vec<Row>,
    }
    let s: Snapshot = serde_json::from_slice(&p.gen_.snapshot()).expect("gen snapshot");
    s.rows
}

#[test]
fn the_materialized_table_equals_the_generators() {
    let mut p = Pipeline::start();
    let (mut changes, mut envelopes, mut shown) = (0, 0, 0);
    while changes < CHANGES as usize {
        let (c, e, s) = p.step();
        assert!(c > 0, "the generator stalled");
        changes += c;
        envelopes += e;
        shown += s;
        if changes == CHANGES as usize / 2 {
            p.restart();
        }
    }
    assert_eq!(changes, CHANGES as usize);
    assert_eq!(shown, changes, "every change is shown once");
    assert!(envelopes > changes, "deletes add tombstones");
    let own = generator_rows(&p);
    let materialized: Vec<Row> = p.table.rows().cloned().collect();
    assert!(own.len() > 300, "{}", own.len());
    assert_eq!(materialized, own);
}
