//! The HTTP poll source against a loopback server that answers, in turn, 200,
//! 304, 500, 429 with Retry-After, a timeout, a truncated body and a body that
//! is not what a plugin expects: the run survives all of them, each bad answer
//! is logged with its status, nothing valid is lost and nothing is repeated.

use std::io::Write;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::*;

/// Answers request `n` (0-based) and keeps every request's text.
fn serve(requests: Arc<Mutex<Vec<String>>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut s) = stream else { continue };
            let requests = requests.clone();
            // One thread per connection: the slow answer must not hold up the next.
            std::thread::spawn(move || {
                let req = read_request(&mut s);
                requests
                    .lock()
                    .expect("lock")
                    .push(String::from_utf8_lossy(&req).into_owned());
                let ok = |body: &str, extra: &str| {
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
                        body.len()
                    )
                };
                let reply = match n {
                0 => ok("feed-1", "ETag: \"v1\"\r\n"),
                1 => "HTTP/1.1 304 Not Modified\r\nConnection: close\r\n\r\n".to_string(),
                2 => "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string(),
                3 => ok("feed-2", ""),
                4 => "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string(),
                5 => ok("feed-2", ""),
                6 => {
                    std::thread::sleep(Duration::from_millis(1500));
                    ok("late", "")
                }
                7 => "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\nonly ten b".to_string(),
                _ => ok("not a feed", ""),
            };
                let _ = s.write_all(reply.as_bytes());
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_survives_every_bad_answer_and_loses_nothing() {
    let requests = Arc::new(Mutex::new(Vec::new()));
    let server = serve(requests.clone());
    let broker = broker().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = dir.path().join("poll.toml");
    std::fs::write(
        &toml,
        format!(
            r#"
name = "poll"
[source.http]
url = "http://{server}/feed.pb"
interval_ms = 200
timeout_ms = 500
retries = 1
backoff_ms = 50
max_polls = 6
[source.http.headers]
"x-api-key" = "SECRET-KEY"
[sink.kafka]
topic = "feeds"
partitions = 1
"#
        ),
    )
    .expect("write");
    let log = finish(weir_run(
        &toml,
        &broker.bootstrap(),
        &dir.path().join("state"),
        &[],
    ))
    .await;

    let seen = consume(
        &broker.bootstrap(),
        "feeds",
        usize::MAX,
        Duration::from_secs(3),
    )
    .await;
    let bodies: Vec<String> = seen
        .iter()
        .map(|s| String::from_utf8_lossy(s.value.as_deref().unwrap_or_default()).into_owned())
        .collect();
    assert_eq!(bodies, ["feed-1", "feed-2", "not a feed"], "{log}");
    for s in &seen {
        assert_eq!(s.header("weir.http.status"), Some("200"));
        assert_eq!(
            s.header("weir.http.url"),
            Some(format!("http://{server}/feed.pb").as_str())
        );
        assert!(s.header("weir.http.fetched_ms").is_some());
    }

    let reqs = requests.lock().expect("lock").clone();
    assert_eq!(reqs.len(), 9, "{reqs:#?}");
    assert!(
        reqs[1]
            .to_ascii_lowercase()
            .contains("if-none-match: \"v1\""),
        "conditional request: {}",
        reqs[1]
    );
    assert!(reqs[0].contains("SECRET-KEY"), "the key is sent");
    assert!(
        !log.contains("SECRET-KEY"),
        "the key is never logged:\n{log}"
    );
    for expected in [
        "not modified",
        "HTTP 500",
        "HTTP 429",
        "timeout",
        "same body as last time",
        "broken body",
        "after every retry",
    ] {
        assert!(log.contains(expected), "no `{expected}` in the log:\n{log}");
    }
}

/// A feed that changes on every request: body `n` for the n-th request.
fn serve_counting(count: Arc<Mutex<u64>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            read_request(&mut s);
            let n = {
                let mut c = count.lock().expect("lock");
                *c += 1;
                *c
            };
            let body = format!("feed-{n}");
            let _ = s.write_all(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            );
        }
    });
    addr
}

/// When Kafka stops acknowledging (the broker process is frozen with SIGSTOP),
/// polling stops too instead of piling responses up in memory; once the broker
/// is back, every fetched feed is delivered, in order, exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_pauses_while_kafka_does_not_acknowledge() {
    let count = Arc::new(Mutex::new(0u64));
    let server = serve_counting(count.clone());
    let addr = free_addr();
    let broker = broker_process(&addr).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = dir.path().join("poll.toml");
    std::fs::write(
        &toml,
        format!(
            r#"
name = "paced"
[source.http]
url = "http://{server}/feed.pb"
interval_ms = 100
[sink.kafka]
topic = "paced"
partitions = 1
"#
        ),
    )
    .expect("write");
    let weir = weir_run(&toml, &addr, &dir.path().join("state"), &[]);
    let polls = || *count.lock().expect("lock");
    assert!(eventually(|| polls() >= 5).await, "polling started");

    signal(&broker, "STOP");
    // Give the poll in flight time to land, then watch for three seconds
    // (30 intervals): at most that one more poll may happen.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let frozen_at = polls();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let while_frozen = polls() - frozen_at;
    signal(&broker, "CONT");
    assert!(
        while_frozen <= 1,
        "{while_frozen} polls while Kafka did not acknowledge"
    );
    assert!(
        eventually(|| polls() >= frozen_at + 10).await,
        "polling resumed"
    );
    signal(&weir, "TERM");
    let log = finish(weir).await;

    let served = polls();
    let seen = consume(&addr, "paced", usize::MAX, Duration::from_secs(3)).await;
    let bodies: Vec<String> = seen
        .iter()
        .map(|s| String::from_utf8_lossy(s.value.as_deref().unwrap_or_default()).into_owned())
        .collect();
    let want: Vec<String> = (1..=served).map(|n| format!("feed-{n}")).collect();
    // The last poll may have been answered after the stop signal and not
    // handed on; every other one is in the topic once, in order.
    let tail_ok = bodies.len() as u64 == served || bodies.len() as u64 + 1 == served;
    assert!(
        tail_ok && want.starts_with(&bodies),
        "served {served}, delivered {bodies:?}\n{log}"
    );
    kill(broker);
}
