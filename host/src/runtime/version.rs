//! Which contract version a component was built against, read from the names of
//! its `weir:plugin/...@X.Y.Z` imports and exports.

use std::fmt;

/// The contract this host implements (`wit/*.wit`).
pub const HOST_VERSION: Version = Version {
    major: 0,
    minor: 3,
    patch: 0,
};

pub const PACKAGE: &str = "weir:plugin";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl Version {
    pub fn parse(s: &str) -> Option<Version> {
        let core = s.split(['-', '+']).next()?;
        let mut it = core.split('.').map(|p| p.parse::<u64>().ok());
        let v = Version {
            major: it.next()??,
            minor: it.next()??,
            patch: it.next()??,
        };
        it.next().is_none().then_some(v)
    }

    /// Semver: same major (for 0.x, same minor), and nothing newer than the host.
    pub fn runs_on(&self, host: &Version) -> bool {
        let same_line = if host.major == 0 {
            self.major == 0 && self.minor == host.minor
        } else {
            self.major == host.major
        };
        same_line && self <= host
    }

    /// `0.1.x` / `1.x`: the versions a host of this version accepts.
    pub fn compatible_range(&self) -> String {
        if self.major == 0 {
            format!("0.{}.0 to {}", self.minor, self)
        } else {
            format!("{}.0.0 to {}", self.major, self)
        }
    }
}

/// For a name like `weir:plugin/transform-api@0.1.0`: the interface and version.
pub fn parse_contract_name(name: &str) -> Option<(&str, Option<Version>)> {
    let rest = name.strip_prefix(PACKAGE)?.strip_prefix('/')?;
    match rest.split_once('@') {
        Some((iface, v)) => Some((iface, Version::parse(v))),
        None => Some((rest, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compatibility_follows_semver() {
        let host = Version::parse("0.1.3").unwrap();
        assert!(Version::parse("0.1.0").unwrap().runs_on(&host));
        assert!(Version::parse("0.1.3").unwrap().runs_on(&host));
        assert!(!Version::parse("0.1.4").unwrap().runs_on(&host));
        assert!(!Version::parse("0.2.0").unwrap().runs_on(&host));
        assert!(!Version::parse("9.0.0").unwrap().runs_on(&host));
        let host = Version::parse("2.3.0").unwrap();
        assert!(Version::parse("2.0.9").unwrap().runs_on(&host));
        assert!(!Version::parse("1.9.0").unwrap().runs_on(&host));
    }

    #[test]
    fn names_parse() {
        assert_eq!(
            parse_contract_name("weir:plugin/transform-api@9.0.0"),
            Some(("transform-api", Version::parse("9.0.0")))
        );
        assert_eq!(parse_contract_name("wasi:cli/stdin@0.2.0"), None);
    }
}
