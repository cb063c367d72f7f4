//! A transform that misbehaves on command, to prove the sandbox: a record whose
//! value contains `LOOP` spins forever, `ALLOC` allocates without bound,
//! `RECURSE` recurses without bound, `PANIC` panics, `FAIL` is rejected with a
//! reason, `DROP` is dropped, `PROBE` tries to read a file, the environment and
//! the network and emits what it got, `LOG` logs a line with a newline and a
//! terminal escape in it; any other record passes through unchanged. It counts the records it passed (its snapshot), so
//! tests can see that a trap does not lose state.

use weir_sdk::{Level, Outcome, RecordRef, Rejection, Transform, log};

pub struct Misbehave {
    passed: u64,
}

impl Transform for Misbehave {
    fn init(_config: &str) -> Result<Self, String> {
        log(Level::Info, "misbehave ready");
        Ok(Misbehave { passed: 0 })
    }

    fn process(&mut self, input: &[RecordRef<'_>], out: &mut Outcome) -> Result<(), String> {
        for (i, r) in input.iter().enumerate() {
            let v = r.value.unwrap_or_default();
            let has = |needle: &[u8]| v.windows(needle.len()).any(|w| w == needle);
            if has(b"LOOP") {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            } else if has(b"ALLOC") {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            } else if has(b"RECURSE") {
                out.emit(
                    i,
                    r.key,
                    Some(&deeper(0).to_le_bytes()),
                    &[],
                    r.timestamp_ms,
                );
            } else if has(b"PROBE") {
                out.emit(i, r.key, Some(probe().as_bytes()), &[], r.timestamp_ms);
            } else if has(b"LOG") {
                log(
                    Level::Warn,
                    "forged\nINFO weir: all is well \x1b[31mred\x1b[0m",
                );
                out.pass(i);
            } else if has(b"PANIC") {
                panic!("misbehave was told to panic on record {i}");
            } else if has(b"FAIL") {
                out.reject(i, asked_to_fail());
            } else if has(b"DROP") {
                continue;
            } else {
                self.passed += 1;
                out.pass(i);
            }
        }
        Ok(())
    }

    fn snapshot(&self) -> Vec<u8> {
        self.passed.to_le_bytes().to_vec()
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        if state.is_empty() {
            return Ok(());
        }
        let bytes: [u8; 8] = state.try_into().map_err(|_| {
            format!(
                "test-misbehave snapshot: expected 8 bytes, got {}",
                state.len()
            )
        })?;
        self.passed = u64::from_le_bytes(bytes);
        Ok(())
    }
}

/// The rejection of a `FAIL` record: no rule code, so the host counts it as
/// `rejected` and the DLQ reason is the bare sentence.
fn asked_to_fail() -> Rejection {
    Rejection {
        codes: Vec::new(),
        reason: "record asked to fail".to_string(),
    }
}

/// Recursion with no end: every frame keeps a buffer alive so the stack grows.
fn deeper(depth: u64) -> u64 {
    if depth == u64::MAX {
        return 0;
    }
    let frame = std::hint::black_box([depth; 64]);
    deeper(depth + 1).wrapping_add(frame[depth as usize % 64])
}

/// What a guest can reach outside its sandbox, one `key=outcome` per line.
fn probe() -> String {
    let file = match std::fs::read("/etc/hostname") {
        Ok(b) => format!("read {} bytes", b.len()),
        Err(e) => format!("error: {e}"),
    };
    let listing = match std::fs::read_dir("/") {
        Ok(d) => format!("{} entries", d.count()),
        Err(e) => format!("error: {e}"),
    };
    let env = std::env::vars().count();
    let tcp = match std::net::TcpStream::connect("127.0.0.1:9") {
        Ok(_) => "connected".to_string(),
        Err(e) => format!("error: {e}"),
    };
    let udp = match std::net::UdpSocket::bind("127.0.0.1:0") {
        Ok(_) => "bound".to_string(),
        Err(e) => format!("error: {e}"),
    };
    format!("file={file}\nlisting={listing}\nenv={env}\ntcp={tcp}\nudp={udp}\n")
}

weir_sdk::export_transform!(Misbehave);

#[cfg(test)]
mod tests {
    use weir_sdk::FlatBatch;

    use super::*;

    #[test]
    fn records_pass_fail_or_drop_in_input_order() {
        let mut input = FlatBatch::default();
        for value in ["fine", "please FAIL", "DROP me", "also fine"] {
            input.push(Some(b"k"), Some(value.as_bytes()), &[], 1);
        }
        let mut m = Misbehave { passed: 0 };
        let mut out = Outcome::default();
        m.process(&input.records().expect("layout"), &mut out)
            .expect("process");
        assert_eq!(out.check(4), Ok(()));
        assert_eq!(out.passed, vec![0, 3]);
        assert!(out.output.is_empty());
        assert_eq!(out.failures.len(), 1);
        assert_eq!(out.failures[0].index, 1);
        assert!(out.failures[0].codes.is_empty());
        assert_eq!(out.failures[0].text(), "record asked to fail");
        assert_eq!(m.snapshot(), 2u64.to_le_bytes());
    }
}
