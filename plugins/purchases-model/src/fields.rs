//! The fields every purchase event must carry: the contract behind
//! [`MISSING_FIELD`](crate::codes::MISSING_FIELD), defined once so the fields the
//! generator's defects drop are exactly the ones the validator requires.

/// Fields every event must have, non-null.
pub const REQUIRED: &[&str] = &[
    "event_id",
    "timestamp",
    "customer_id",
    "product_category",
    "quantity",
    "unit_price",
    "total_amount",
    "currency",
];
