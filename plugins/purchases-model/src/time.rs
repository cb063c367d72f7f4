//! Instants as milliseconds since the Unix epoch, by hand so the plugins need no
//! date library: RFC 3339 parsing, ISO-8601 formatting in UTC or a fixed offset,
//! and the civil-date arithmetic under both.

mod civil;
mod rfc3339;
mod zone;

pub use civil::{civil_from_days, days_from_civil};
pub use rfc3339::parse_rfc3339;
pub use zone::{Zone, iso8601};
