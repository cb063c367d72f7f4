//! The host refuses components built against an incompatible contract, and
//! components used in the wrong role.

use weir::runtime::{Plugin, Role, RuntimeError};

use crate::common::*;

#[test]
fn a_future_major_version_is_refused_naming_both_versions() {
    let path = plugin("test-future-version");
    let err = match Plugin::load(&runtime(), &path, Role::Transform) {
        Err(e) => e,
        Ok(_) => panic!("a weir:plugin@9.0.0 component must be refused"),
    };
    assert!(
        matches!(err, RuntimeError::IncompatibleVersion { .. }),
        "{err}"
    );
    let msg = err.to_string();
    assert!(msg.contains("weir:plugin@9.0.0"), "{msg}");
    assert!(msg.contains("weir:plugin@0.3.0"), "{msg}");
    assert!(msg.contains("rebuild"), "{msg}");
}

/// A real component built against the previous contract (`bench-echo` at
/// 0.2.0, kept in `tests/data/`): 0.3 changed `outcome` and `failure`, so it
/// must be refused before it runs, not fail on its first batch.
#[test]
fn a_plugin_built_against_contract_0_2_is_refused() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/echo-contract-0.2.0.wasm");
    let err = match Plugin::load(&runtime(), &path, Role::Transform) {
        Err(e) => e,
        Ok(_) => panic!("a weir:plugin@0.2.0 component must be refused"),
    };
    assert!(
        matches!(err, RuntimeError::IncompatibleVersion { .. }),
        "{err}"
    );
    let msg = err.to_string();
    assert!(msg.contains("weir:plugin@0.2.0"), "{msg}");
    assert!(msg.contains("weir:plugin@0.3.0"), "{msg}");
    assert!(msg.contains("rebuild"), "{msg}");
}

#[test]
fn a_source_used_as_a_transform_is_refused() {
    let err = match Plugin::load(&runtime(), &plugin("purchases-gen"), Role::Transform) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("role mismatch must be refused"),
    };
    assert!(
        err.contains("is a source plugin, but the connector uses it as a transform"),
        "{err}"
    );
}

#[test]
fn a_current_plugin_loads_with_its_contract_version() {
    let p = Plugin::load(&runtime(), &plugin("purchases-gen"), Role::Source).expect("loads");
    assert_eq!(p.contract.to_string(), "0.3.0");
    assert_eq!(p.name, "purchases-gen");
}

#[test]
fn garbage_is_not_a_component() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("junk.wasm");
    std::fs::write(&path, b"\0asm junk").expect("write");
    let err = match Plugin::load(&runtime(), &path, Role::Source) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("junk must be refused"),
    };
    assert!(
        err.contains("junk.wasm is not a WebAssembly component"),
        "{err}"
    );
}

#[test]
fn an_import_the_host_does_not_provide_is_named() {
    let err = match Plugin::load(&runtime(), &plugin("test-bad-import"), Role::Transform) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("a component importing an unknown interface must be refused"),
    };
    assert!(err.contains("weir:plugin/secrets@0.3.0"), "{err}");
    assert!(err.contains("which weir does not provide"), "{err}");
}
