//! `purchases-validate`: a transform that passes valid purchase events through
//! unchanged and rejects the others with `code[,code…]: message`, where the codes
//! name every rule the event breaks (see [`rules`]).

pub mod config;
pub mod dedup;
pub mod money;
pub mod rules;

use config::Config;
use dedup::Seen;
use purchases_model::codes;
use weir_sdk::{Outcome, RecordRef, Transform};

/// The plugin: the rules plus the memory of valid event ids.
pub struct PurchasesValidate {
    config: Config,
    seen: Seen,
}

impl PurchasesValidate {
    /// The verdict on one record; a valid one is remembered for duplicate detection.
    pub fn validate(&mut self, record: &RecordRef<'_>) -> rules::Violations {
        let at = record.timestamp_ms;
        if let Some(id) = rules::valid_event_id(record.value, at, &self.config)
            && self.seen.first_sight(&id, at)
        {
            return rules::Violations::default();
        }
        let mut verdict = rules::check(record.value, at, &self.config);
        if let Some(id) = &verdict.event_id {
            if self.seen.contains(id, at) {
                verdict.violations.add(
                    codes::DUPLICATE_EVENT_ID,
                    format!("event_id {id} was already seen"),
                );
            } else if verdict.violations.is_empty() {
                self.seen.remember(id, at);
            }
        }
        verdict.violations
    }
}

impl Transform for PurchasesValidate {
    fn init(config: &str) -> Result<Self, String> {
        let config = Config::parse(config)?;
        let seen = Seen::new(config.dedup_retention_ms, config.dedup_max_ids);
        Ok(PurchasesValidate { config, seen })
    }

    fn process(&mut self, input: &[RecordRef<'_>], out: &mut Outcome) -> Result<(), String> {
        for (i, r) in input.iter().enumerate() {
            let violations = self.validate(r);
            if violations.is_empty() {
                out.pass(i);
            } else {
                out.reject(i, violations.rejection());
            }
        }
        Ok(())
    }

    fn snapshot(&self) -> Vec<u8> {
        self.seen.snapshot()
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        self.seen.restore(state)
    }
}

weir_sdk::export_transform!(PurchasesValidate);

#[cfg(test)]
mod tests;
