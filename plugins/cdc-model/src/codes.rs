//! Failure reason codes of the CDC plugins, which travel beside the reason (a
//! [`weir_sdk::Rejection`]) and which the host's DLQ counts by code. The three generic ones are the SDK's, so a
//! dashboard counts `malformed_json` the same way for every pipeline.

pub use weir_sdk::codes::{MALFORMED_JSON, MISSING_FIELD, WRONG_TYPE};

/// `op` is a string but names no operation this stage knows.
pub const UNKNOWN_OP: &str = "unknown_op";
/// An update or delete for an id the materialized table does not hold.
pub const ORPHAN_CHANGE: &str = "orphan_change";
/// A create or snapshot read for an id the materialized table already holds.
pub const DUPLICATE_CREATE: &str = "duplicate_create";

/// Every code, so a test can check that a reason names a known one.
pub const ALL: [&str; 6] = [
    MALFORMED_JSON,
    MISSING_FIELD,
    WRONG_TYPE,
    UNKNOWN_OP,
    ORPHAN_CHANGE,
    DUPLICATE_CREATE,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_safe_in_a_reason() {
        assert_eq!(weir_sdk::codes::check(&ALL), Ok(()));
    }
}
