//! Which settings are secrets: their values never reach logs, `weir validate`
//! or `weir plan`. librdkafka names its secrets consistently (`sasl.password`,
//! `ssl.key.password`, `sasl.oauthbearer.client.secret`, `ssl.key.pem`, …),
//! so a key that contains one of these words is treated as a secret.

const SECRET_WORDS: [&str; 7] = [
    "password",
    "secret",
    "key.pem",
    "keystore",
    "token",
    "sasl.oauthbearer.config",
    "credentials",
];

/// Whether the value of `key` must be hidden.
pub fn is_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|w| key.contains(w))
}

/// The value as it may be shown: secrets become `<redacted>`.
pub fn shown<'a>(key: &str, value: &'a str) -> &'a str {
    if is_secret(key) { "<redacted>" } else { value }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_settings_print_without_their_secrets() {
        let mut c = crate::config::KafkaConfig::default();
        c.properties
            .insert("sasl.password".into(), "hunter2-from-env".into());
        c.properties.insert("sasl.username".into(), "weir".into());
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("\"sasl.password\": \"<redacted>\""),
            "{shown}"
        );
        assert!(shown.contains("\"sasl.username\": \"weir\""), "{shown}");
    }

    #[test]
    fn librdkafka_secrets_are_hidden() {
        for k in [
            "sasl.password",
            "ssl.key.password",
            "sasl.oauthbearer.client.secret",
            "ssl.key.pem",
            "ssl.keystore.password",
            "SASL.PASSWORD",
        ] {
            assert!(is_secret(k), "{k}");
            assert_eq!(shown(k, "hunter2"), "<redacted>");
        }
        for k in [
            "security.protocol",
            "sasl.username",
            "linger.ms",
            "ssl.ca.location",
        ] {
            assert!(!is_secret(k), "{k}");
            assert_eq!(shown(k, "v"), "v");
        }
    }
}
