//! Guest calls run on tokio's blocking threads: guest CPU time must not stall the
//! async reactor, and synchronous WASI may not run on an async thread.

use super::{CallError, PluginInstance};

use crate::telemetry::{Emit, GuestCall};

/// A [`PluginInstance`] that is called from async code.
pub struct AsyncInstance {
    inner: Option<PluginInstance>,
    label: String,
}

impl AsyncInstance {
    pub fn new(inner: PluginInstance) -> Self {
        let label = inner.plugin().name.clone();
        AsyncInstance {
            inner: Some(inner),
            label,
        }
    }

    pub fn name(&self) -> &str {
        &self.label
    }

    /// Runs `f` on a blocking thread and gets the instance back. Await it to the
    /// end: a future dropped mid-call loses the instance.
    pub async fn call<R: Send + 'static>(
        &mut self,
        f: impl FnOnce(&mut PluginInstance) -> Result<R, CallError> + Send + 'static,
    ) -> Result<R, CallError> {
        let Some(mut inst) = self.inner.take() else {
            return Err(CallError::Trap(format!(
                "plugin {} was lost by an earlier host failure",
                self.label
            )));
        };
        let started = std::time::Instant::now();
        let joined = tokio::task::spawn_blocking(move || {
            let r = f(&mut inst);
            (inst, r)
        })
        .await;
        let seconds = started.elapsed().as_secs_f64();
        match joined {
            Ok((inst, r)) => {
                self.inner = Some(inst);
                GuestCall {
                    plugin: &self.label,
                    seconds,
                    trapped: matches!(r, Err(CallError::Trap(_))),
                }
                .emit();
                r
            }
            Err(e) => Err(CallError::Trap(format!(
                "host thread failed during the call: {e}"
            ))),
        }
    }
}
