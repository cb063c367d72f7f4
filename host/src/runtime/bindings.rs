//! The one place the host binds the WIT contract (`wit/`).

wasmtime::component::bindgen!({
    world: "plugin-host",
    path: "../wit",
});

pub use exports::weir::plugin::{aggregator_api, source_api, transform_api};
pub use weir::plugin::types;
