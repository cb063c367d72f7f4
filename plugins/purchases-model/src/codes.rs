//! The rule codes: the contract between the `weir.injected` labels `purchases-gen`
//! puts on the defects it injects and the failure reasons (`code[,code…]: message`)
//! `purchases-validate` and `purchases-daily` give, which the host's DLQ counts by
//! code. Defined once, so a label and the reason for it cannot drift apart; the
//! three generic codes are the SDK's, shared with every other pipeline.

pub use weir_sdk::codes::{MALFORMED_JSON, MISSING_FIELD, WRONG_TYPE};

/// `quantity` is 0 or negative.
pub const QUANTITY_POSITIVE: &str = "quantity_positive";
/// `unit_price` is 0 or negative.
pub const UNIT_PRICE_POSITIVE: &str = "unit_price_positive";
/// `discount_percentage` is below 0, or 100 and above.
pub const DISCOUNT_RANGE: &str = "discount_range";
/// `total_amount` is not `quantity × unit_price × (1 − discount/100)`.
pub const TOTAL_MISMATCH: &str = "total_mismatch";
/// `currency` is not one of the accepted codes.
pub const CURRENCY_ALLOWED: &str = "currency_allowed";
/// `timestamp` is too far ahead of, or behind, the record time.
pub const TIMESTAMP_RANGE: &str = "timestamp_range";
/// `event_id` was already seen on a valid event.
pub const DUPLICATE_EVENT_ID: &str = "duplicate_event_id";

/// Every code, so a test can check that a label or a reason names a known rule.
pub const ALL: [&str; 10] = [
    MALFORMED_JSON,
    MISSING_FIELD,
    WRONG_TYPE,
    QUANTITY_POSITIVE,
    UNIT_PRICE_POSITIVE,
    DISCOUNT_RANGE,
    TOTAL_MISMATCH,
    CURRENCY_ALLOWED,
    TIMESTAMP_RANGE,
    DUPLICATE_EVENT_ID,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_safe_in_a_reason() {
        assert_eq!(weir_sdk::codes::check(&ALL), Ok(()));
    }
}
