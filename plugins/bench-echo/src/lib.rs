//! Emits every record unchanged and looks at nothing: the cost of a batch
//! crossing the sandbox boundary in and out, and nothing else (`just bench`).

use weir_sdk::{Outcome, RecordRef, Transform};

pub struct Echo;

impl Transform for Echo {
    fn init(_config: &str) -> Result<Self, String> {
        Ok(Echo)
    }

    fn process(&mut self, input: &[RecordRef<'_>], out: &mut Outcome) -> Result<(), String> {
        for (i, r) in input.iter().enumerate() {
            out.emit(i, r.key, r.value, &r.headers, r.timestamp_ms);
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
    fn every_record_comes_back_as_it_was() {
        let mut input = FlatBatch::default();
        input.push(Some(b"k"), Some(b"v1"), &[("h", b"x")], 1);
        input.push(None, None, &[], 2);
        let mut out = Outcome::default();
        Echo.process(&input.records().expect("layout"), &mut out)
            .expect("process");
        assert_eq!(out.origins, vec![0, 1]);
        let back = out.output.records().expect("layout");
        assert_eq!(back[0].key, Some(&b"k"[..]));
        assert_eq!(back[0].value, Some(&b"v1"[..]));
        assert_eq!(back[1].value, None);
        assert_eq!(back[1].timestamp_ms, 2);
    }
}
