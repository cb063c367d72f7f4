//! The host's producer: librdkafka's producer, and a thread that serves its
//! delivery reports when there are some and sleeps when there are none.
//!
//! rdkafka's `ThreadedProducer` polls in rounds of 100 ms, and each wait of a
//! round is cut to whole milliseconds: once less than one is left, it polls
//! without waiting, again and again, until the round is over. In an idle host
//! that spin was 70 % of the CPU (about 1 % of a core); on the validate
//! pipeline, a third of the polling thread's time. Here librdkafka itself wakes
//! the thread when an event lands on the empty queue
//! (`rd_kafka_queue_cb_event_enable`, as the Kafka source's fetch queue does).

use std::ffi::c_void;
use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{JoinHandle, Thread};
use std::time::Duration;

use rdkafka::bindings as rdsys;
use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseProducer, Producer as _};

use super::produce::DeliveryCounter;

/// The longest the thread sleeps without being woken: a safety net, should a
/// wake-up ever be missed, and how often it looks whether to stop while idle
/// (dropping the producer wakes it at once).
const SAFETY_NET: Duration = Duration::from_millis(100);

/// A producer whose delivery reports a thread of its own serves (through
/// [`DeliveryCounter`]); everything else is `BaseProducer`'s, through `Deref`.
/// Clones share the producer; the last one dropped stops the thread.
#[derive(Clone)]
pub struct Producer {
    shared: Arc<Served>,
}

/// The producer and its delivery thread, stopped on drop.
struct Served {
    inner: Arc<BaseProducer<DeliveryCounter>>,
    stop: Arc<AtomicBool>,
    poller: Option<JoinHandle<()>>,
}

impl Producer {
    /// Starts the delivery thread for `inner` (the one way the client set-up
    /// makes a producer).
    pub(super) fn serve(inner: BaseProducer<DeliveryCounter>) -> Result<Producer, KafkaError> {
        let inner = Arc::new(inner);
        let stop = Arc::new(AtomicBool::new(false));
        let poller = std::thread::Builder::new()
            .name("weir-producer".into())
            .spawn({
                let inner = Arc::clone(&inner);
                let stop = Arc::clone(&stop);
                move || serve_reports(&inner, &stop)
            })
            .map_err(|e| {
                KafkaError::ClientCreation(format!("cannot start the delivery thread: {e}"))
            })?;
        Ok(Producer {
            shared: Arc::new(Served {
                inner,
                stop,
                poller: Some(poller),
            }),
        })
    }
}

impl Deref for Producer {
    type Target = BaseProducer<DeliveryCounter>;

    fn deref(&self) -> &Self::Target {
        &self.shared.inner
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(poller) = self.poller.take() {
            poller.thread().unpark();
            if poller.join().is_err() {
                tracing::warn!("The producer's delivery thread panicked.");
            }
        }
    }
}

/// librdkafka's callback when an event lands on the producer's empty queue
/// (called from its own threads): wakes the delivery thread, or lets its next
/// park return at once if it is not parked yet.
unsafe extern "C" fn arrived(_rk: *mut rdsys::rd_kafka_t, opaque: *mut c_void) {
    // SAFETY: `opaque` is the delivery thread's `Thread`, which outlives the
    // callback (disabled before it is dropped, in `serve_reports`).
    let thread = unsafe { &*(opaque as *const Thread) };
    thread.unpark();
}

/// The delivery thread: serves each event of the producer's queue (a delivery
/// report event carries many reports), then sleeps until librdkafka wakes it.
fn serve_reports(producer: &BaseProducer<DeliveryCounter>, stop: &AtomicBool) {
    // SAFETY: the client lives as long as `producer`; the handle is ours.
    let main = unsafe { rdsys::rd_kafka_queue_get_main(producer.client().native_ptr()) };
    let Some(queue) = NonNull::new(main) else {
        // Not expected of librdkafka: poll in rounds, as rdkafka's own thread does.
        while !stop.load(Ordering::Acquire) {
            producer.poll(SAFETY_NET);
        }
        return;
    };
    let me = Box::new(std::thread::current());
    // SAFETY: `me` lives until the callback is disabled below.
    unsafe {
        rdsys::rd_kafka_queue_cb_event_enable(
            queue.as_ptr(),
            Some(arrived),
            &*me as *const Thread as *mut c_void,
        );
    }
    loop {
        // SAFETY: a live queue handle.
        while unsafe { rdsys::rd_kafka_queue_length(queue.as_ptr()) } > 0 {
            producer.poll(Duration::ZERO);
        }
        if stop.load(Ordering::Acquire) {
            break;
        }
        std::thread::park_timeout(SAFETY_NET);
    }
    // SAFETY: once the callback is disabled librdkafka no longer uses `me`;
    // the handle is destroyed once.
    unsafe {
        rdsys::rd_kafka_queue_cb_event_enable(queue.as_ptr(), None, std::ptr::null_mut());
        rdsys::rd_kafka_queue_destroy(queue.as_ptr());
    }
    drop(me);
}

#[cfg(test)]
mod tests {
    use super::super::client::Cluster;
    use super::super::produce::{Outgoing, enqueue};
    use crate::config::KafkaConfig;
    use crate::record::Record;

    /// Nobody polls the producer but its own thread: a record that cannot be
    /// delivered (no broker listens) still gets its report, as a failure, and
    /// dropping a clone, then the producer, stops the thread (a hang otherwise).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_delivery_thread_serves_reports_and_stops_with_the_last_clone() {
        let mut settings = KafkaConfig::default();
        settings
            .properties
            .insert("message.timeout.ms".into(), "300".into());
        let cluster = Cluster {
            bootstrap: "127.0.0.1:1".into(),
            settings,
        };
        let producer = cluster.producer().expect("producer");
        let clone = producer.clone();
        let mut record = Record::empty();
        record.value = Some(b"lost".to_vec());
        let pending = enqueue(
            &clone,
            "nowhere",
            std::iter::once(Outgoing::record(&record)),
        )
        .await
        .expect("queued");
        drop(clone);
        let error = pending.settle().await.expect_err("no broker, no delivery");
        assert!(error.to_string().contains("`nowhere`"), "{error}");
        drop(producer);
    }
}
