//! Passes every record on unchanged and looks at nothing: the cost of a batch
//! crossing the sandbox boundary, and nothing else (`just bench`).

use weir_sdk::{Outcome, RecordRef, Transform};

pub struct Echo;

impl Transform for Echo {
    fn init(_config: &str) -> Result<Self, String> {
        Ok(Echo)
    }

    fn process(&mut self, input: &[RecordRef<'_>], out: &mut Outcome) -> Result<(), String> {
        for i in 0..input.len() {
            out.pass(i);
        }
        Ok(())
    }
}

weir_sdk::export_transform!(Echo);

#[cfg(test)]
mod tests {
    use weir_sdk::FlatBatch;

    use super::*;

    #[test]
    fn every_record_is_passed_on_without_a_copy() {
        let mut input = FlatBatch::default();
        input.push(Some(b"k"), Some(b"v1"), &[("h", b"x")], 1);
        input.push(None, None, &[], 2);
        let mut out = Outcome::default();
        Echo.process(&input.records().expect("layout"), &mut out)
            .expect("process");
        assert_eq!(out.check(2), Ok(()));
        assert_eq!(out.passed, vec![0, 1]);
        assert!(out.output.is_empty() && out.origins.is_empty());
        assert!(out.failures.is_empty());
    }
}
