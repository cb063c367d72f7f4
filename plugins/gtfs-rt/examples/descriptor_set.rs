//! Writes the descriptor set compiled from `schemas/gtfs-realtime.proto` to
//! stdout (for `tests/interop/check_proto.py`):
//! `cargo run -q -p gtfs-rt --example descriptor_set > gtfs-realtime.fds`.

use std::io::Write as _;

fn main() -> std::io::Result<()> {
    std::io::stdout().write_all(gtfs_rt::proto::DESCRIPTOR_SET)
}
