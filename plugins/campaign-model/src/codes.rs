//! Failure codes of the campaign aggregation and the labels the generator puts
//! on the views it makes defective on purpose (header [`INJECTED_HEADER`]). A
//! label and the failure it must cause are the same string, so a test can match
//! the DLQ's reason codes against the labels without a table.

pub use weir_sdk::codes::{MALFORMED_JSON, MISSING_FIELD, WRONG_TYPE};

/// Header naming why a generated view is unusual; absent on ordinary views.
pub const INJECTED_HEADER: &str = "weir.injected";

/// The view belongs to a window the watermark has already closed.
pub const LATE: &str = "late";
/// The view names a campaign that is not in the campaigns table.
pub const UNKNOWN_CAMPAIGN: &str = "unknown_campaign";
/// `end_timestamp` is before `start_timestamp`.
pub const NEGATIVE_DURATION: &str = "negative_duration";
/// Label only: the view starts a little before views already sent (within the
/// allowed lateness), so it must still be counted.
pub const OUT_OF_ORDER: &str = "out_of_order";

/// Every code and label, so a test can check they fit a reason.
pub const ALL: [&str; 7] = [
    MALFORMED_JSON,
    MISSING_FIELD,
    WRONG_TYPE,
    LATE,
    UNKNOWN_CAMPAIGN,
    NEGATIVE_DURATION,
    OUT_OF_ORDER,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_safe_in_a_reason() {
        assert_eq!(weir_sdk::codes::check(&ALL), Ok(()));
    }
}
