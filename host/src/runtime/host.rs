//! Per-instance host state: a WASI context with clocks and randomness only, the
//! memory limiter, and the `log` import.

use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::bindings::weir::plugin::{host, types};
use super::env::GuestEnv;

/// How much of a guest's stderr is kept to explain a trap (panic messages).
const STDERR_CAPTURE: usize = 16 * 1024;

pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(super) limits: Limiter,
    stderr: MemoryOutputPipe,
    /// `connector/plugin`, for log lines.
    label: String,
}

impl HostState {
    pub fn new(label: String, memory_bytes: usize, env: &GuestEnv) -> Self {
        let stderr = MemoryOutputPipe::new(STDERR_CAPTURE);
        // No preopens, no environment, no arguments, no sockets: only clocks,
        // randomness and a captured stderr.
        let mut builder = WasiCtxBuilder::new();
        builder
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        env.apply(&mut builder);
        let wasi = builder.build();
        let limits = StoreLimitsBuilder::new()
            .memory_size(memory_bytes)
            .trap_on_grow_failure(true)
            .instances(64)
            .build();
        HostState {
            wasi,
            table: ResourceTable::new(),
            limits: Limiter {
                caps: limits,
                peak: 0,
            },
            stderr,
            label,
        }
    }

    /// The last lines the guest wrote to stderr, e.g. a panic message.
    pub fn stderr_tail(&self) -> String {
        let bytes = self.stderr.contents();
        let text = String::from_utf8_lossy(&bytes);
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        escape_controls(&lines[lines.len().saturating_sub(3)..].join(" | ")).into_owned()
    }
}

/// The memory cap, and the largest linear memory the guest has grown to: what
/// `limits.memory_mb` is sized by (an interpreter's memory is most of it).
pub(super) struct Limiter {
    caps: StoreLimits,
    pub(super) peak: usize,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.caps.memory_growing(current, desired, maximum)?;
        if allowed {
            self.peak = self.peak.max(desired);
        }
        Ok(allowed)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.caps.memory_grow_failed(error)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.caps.table_growing(current, desired, maximum)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.caps.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.caps.instances()
    }

    fn tables(&self) -> usize {
        self.caps.tables()
    }

    fn memories(&self) -> usize {
        self.caps.memories()
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl types::Host for HostState {}

impl host::Host for HostState {
    fn log(&mut self, level: types::Level, message: String) {
        let plugin = self.label.as_str();
        let message = escape_controls(&message);
        match level {
            types::Level::Trace => tracing::trace!(plugin, "{message}"),
            types::Level::Debug => tracing::debug!(plugin, "{message}"),
            types::Level::Info => tracing::info!(plugin, "{message}"),
            types::Level::Warn => tracing::warn!(plugin, "{message}"),
            types::Level::Error => tracing::error!(plugin, "{message}"),
        }
    }
}

/// A guest's text as it may go into a log line: control characters (newlines,
/// terminal escapes) are written as `\n`, `\u{1b}`, so a plugin can neither
/// forge log lines nor recolour a terminal.
pub(super) fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::escape_controls;

    #[test]
    fn guest_text_cannot_forge_log_lines_or_colours() {
        assert_eq!(
            escape_controls("plain text, ünïcode"),
            "plain text, ünïcode"
        );
        assert_eq!(
            escape_controls("forged\nINFO all is well \x1b[31mred"),
            "forged\\nINFO all is well \\u{1b}[31mred"
        );
        assert!(
            !escape_controls("a\rb\tc\u{7}")
                .chars()
                .any(char::is_control)
        );
    }
}
