//! Compatibility levels and the check behind them: Avro's schema-resolution rules
//! (apache-avro's `SchemaCompatibility::can_read`) applied in the direction(s) a
//! level asks for, against the latest or every earlier version.

use std::fmt;

use apache_avro::Schema;
use apache_avro::schema_compatibility::SchemaCompatibility;

/// A subject's (or the registry's) compatibility level, named as Confluent names
/// them; `BACKWARD` unless configured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Level {
    None,
    #[default]
    Backward,
    BackwardTransitive,
    Forward,
    ForwardTransitive,
    Full,
    FullTransitive,
}

impl Level {
    pub const ALL: [Level; 7] = [
        Level::None,
        Level::Backward,
        Level::BackwardTransitive,
        Level::Forward,
        Level::ForwardTransitive,
        Level::Full,
        Level::FullTransitive,
    ];

    /// Parses a level name, ignoring case as Confluent does.
    pub fn parse(name: &str) -> Option<Level> {
        Level::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(name.trim()))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::None => "NONE",
            Level::Backward => "BACKWARD",
            Level::BackwardTransitive => "BACKWARD_TRANSITIVE",
            Level::Forward => "FORWARD",
            Level::ForwardTransitive => "FORWARD_TRANSITIVE",
            Level::Full => "FULL",
            Level::FullTransitive => "FULL_TRANSITIVE",
        }
    }

    /// Whether the check covers every earlier version rather than the latest.
    pub fn is_transitive(self) -> bool {
        matches!(
            self,
            Level::BackwardTransitive | Level::ForwardTransitive | Level::FullTransitive
        )
    }

    fn backward(self) -> bool {
        matches!(
            self,
            Level::Backward | Level::BackwardTransitive | Level::Full | Level::FullTransitive
        )
    }

    fn forward(self) -> bool {
        matches!(
            self,
            Level::Forward | Level::ForwardTransitive | Level::Full | Level::FullTransitive
        )
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Checks `new` against earlier versions, given newest first as
/// `(version, schema)`. Only the newest is checked unless `level` is transitive.
/// Returns one reason per failed check; empty means compatible.
pub fn check(level: Level, new: &Schema, earlier: &[(u32, &Schema)]) -> Vec<String> {
    let take = if level.is_transitive() {
        earlier.len()
    } else {
        earlier.len().min(1)
    };
    let mut reasons = Vec::new();
    for (version, old) in &earlier[..take] {
        if level.backward()
            && let Err(e) = SchemaCompatibility::can_read(old, new)
        {
            // The Debug form appends the nested cause (which field, which type).
            reasons.push(format!(
                "{level}: the new schema cannot read data written with version {version}: {e:?}"
            ));
        }
        if level.forward()
            && let Err(e) = SchemaCompatibility::can_read(new, old)
        {
            reasons.push(format!(
                "{level}: version {version} cannot read data written with the new schema: {e:?}"
            ));
        }
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(fields: &str) -> Schema {
        Schema::parse_str(&format!(
            r#"{{"type":"record","name":"User","fields":[{fields}]}}"#
        ))
        .expect("test schema parses")
    }

    const ID: &str = r#"{"name":"id","type":"long"}"#;
    const EMAIL_DEFAULT: &str = r#"{"name":"email","type":"string","default":""}"#;
    const EMAIL: &str = r#"{"name":"email","type":"string"}"#;

    fn ok(level: Level, new: &Schema, old: &Schema) -> bool {
        check(level, new, &[(1, old)]).is_empty()
    }

    #[test]
    fn levels_parse_ignoring_case_and_print_as_confluent() {
        assert_eq!(Level::parse("full_transitive"), Some(Level::FullTransitive));
        assert_eq!(Level::parse("NONE"), Some(Level::None));
        assert_eq!(Level::parse("sideways"), None);
        for l in Level::ALL {
            assert_eq!(Level::parse(l.as_str()), Some(l));
        }
    }

    #[test]
    fn adding_a_field_with_a_default_is_fully_compatible() {
        let (old, new) = (schema(ID), schema(&format!("{ID},{EMAIL_DEFAULT}")));
        for l in Level::ALL {
            assert!(ok(l, &new, &old), "{l}");
        }
    }

    #[test]
    fn adding_a_field_without_default_is_forward_only() {
        let (old, new) = (schema(ID), schema(&format!("{ID},{EMAIL}")));
        assert!(!ok(Level::Backward, &new, &old));
        assert!(!ok(Level::Full, &new, &old));
        assert!(ok(Level::Forward, &new, &old));
        assert!(ok(Level::None, &new, &old));
        let reasons = check(Level::Backward, &new, &[(1, &old)]);
        assert!(
            reasons[0].contains("email") && reasons[0].contains("default"),
            "{reasons:?}"
        );
    }

    /// Avro's rules: a reader ignores fields it does not know, so dropping a
    /// field keeps new readers working (BACKWARD) but breaks old readers unless
    /// the dropped field had a default.
    #[test]
    fn removing_a_field_is_backward_only_unless_it_had_a_default() {
        let (old, new) = (schema(&format!("{ID},{EMAIL}")), schema(ID));
        assert!(ok(Level::Backward, &new, &old));
        assert!(!ok(Level::Forward, &new, &old));
        assert!(!ok(Level::Full, &new, &old));
        let old = schema(&format!("{ID},{EMAIL_DEFAULT}"));
        assert!(ok(Level::Full, &new, &old));
    }

    #[test]
    fn changing_a_type_is_incompatible_except_for_promotions() {
        let old = schema(r#"{"name":"n","type":"int"}"#);
        let promoted = schema(r#"{"name":"n","type":"long"}"#);
        let unrelated = schema(r#"{"name":"n","type":"string"}"#);
        assert!(ok(Level::Backward, &promoted, &old));
        assert!(!ok(Level::Forward, &promoted, &old));
        assert!(!ok(Level::Backward, &unrelated, &old));
        assert!(ok(Level::None, &unrelated, &old));
    }

    #[test]
    fn transitive_levels_check_every_earlier_version() {
        // v1 has no email; v2 added it with a default; v3 drops the default.
        let v1 = schema(ID);
        let v2 = schema(&format!("{ID},{EMAIL_DEFAULT}"));
        let v3 = schema(&format!("{ID},{EMAIL}"));
        let earlier = [(2, &v2), (1, &v1)];
        assert!(check(Level::Backward, &v3, &earlier).is_empty());
        let reasons = check(Level::BackwardTransitive, &v3, &earlier);
        assert_eq!(reasons.len(), 1, "{reasons:?}");
        assert!(reasons[0].contains("version 1"), "{reasons:?}");
    }
}
