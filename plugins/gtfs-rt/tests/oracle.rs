//! The generated JSON writers against the reflective mapping they replaced
//! (`prost_reflect::DynamicMessage`, the serializer the fixtures and the
//! MessageToDict comparisons were made with): byte for byte on every fixture
//! feed, on a large sample, and on those feeds with one byte changed, for both
//! field-name styles.

use std::path::Path;

use gtfs_rt::GtfsRt;
use gtfs_rt::proto::DESCRIPTOR_SET;
use proptest::prelude::*;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, SerializeOptions, Value};
use weir_sdk::Transform as _;

fn feed_descriptor() -> MessageDescriptor {
    DescriptorPool::decode(DESCRIPTOR_SET)
        .expect("descriptor set")
        .get_message_by_name("transit_realtime.FeedMessage")
        .expect("FeedMessage")
}

fn to_json(msg: &DynamicMessage, proto_names: bool) -> Vec<u8> {
    let options = SerializeOptions::new()
        .use_proto_field_name(proto_names)
        .stringify_64_bit_integers(true)
        .use_enum_numbers(false)
        .skip_default_fields(true);
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::new(&mut out);
    msg.serialize_with_options(&mut ser, &options)
        .expect("serialize");
    out
}

/// What the reflective mapping writes for the entities the plugin kept.
fn reflective(bytes: &[u8], indices: &[usize], proto_names: bool) -> Option<Vec<Vec<u8>>> {
    let msg = DynamicMessage::decode(feed_descriptor(), bytes).ok()?;
    let header = match msg.get_field_by_name("header") {
        Some(h) => to_json(h.as_message().expect("header"), proto_names),
        None => b"{}".to_vec(),
    };
    let entities = match msg.get_field_by_name("entity").as_deref() {
        Some(Value::List(list)) => list.clone(),
        _ => Vec::new(),
    };
    let records = indices.iter().map(|&i| {
        let entity = entities[i].as_message().expect("entity");
        let mut out = b"{\"header\":".to_vec();
        out.extend_from_slice(&header);
        out.extend_from_slice(b",\"entity\":");
        out.extend_from_slice(&to_json(entity, proto_names));
        out.push(b'}');
        out
    });
    Some(records.collect())
}

/// Returns how many records were compared.
fn agrees(bytes: &[u8]) -> Result<usize, TestCaseError> {
    let mut compared = 0;
    for (config, proto_names) in [("{}", false), (r#"{"field_names":"proto"}"#, true)] {
        let plugin = GtfsRt::init(config).expect("init");
        let Ok(decoded) = plugin.decode(Some(bytes)) else {
            continue;
        };
        let typed =
            <gtfs_rt::proto::transit_realtime::FeedMessage as prost::Message>::decode(bytes)
                .expect("the plugin decoded it");
        let sorted = gtfs_rt::feed::sort(&typed);
        let indices: Vec<usize> = sorted.keyed.iter().map(|k| k.index).collect();
        let Some(expected) = reflective(bytes, &indices, proto_names) else {
            // prost-reflect refuses a few inputs prost takes; nothing to compare.
            continue;
        };
        let written: Vec<Vec<u8>> = decoded.records.into_iter().map(|(_, v)| v).collect();
        for (w, e) in written.iter().zip(&expected) {
            prop_assert_eq!(
                String::from_utf8_lossy(w),
                String::from_utf8_lossy(e),
                "names {}",
                config
            );
        }
        prop_assert_eq!(written.len(), expected.len());
        compared += written.len();
    }
    Ok(compared)
}

fn fixture_feeds() -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut feeds = Vec::new();
    for case in std::fs::read_dir(root).expect("fixtures") {
        let case = case.expect("entry").path();
        let Ok(files) = std::fs::read_dir(&case) else {
            continue;
        };
        for file in files {
            let path = file.expect("entry").path();
            if path.extension().is_some_and(|e| e == "pb") {
                feeds.push(std::fs::read(&path).expect("read"));
            }
        }
    }
    feeds.push(gtfs_rt::feed::sample(300));
    feeds
}

#[test]
fn every_fixture_feed_is_written_as_the_reflective_mapping_writes_it() {
    let feeds = fixture_feeds();
    assert!(feeds.len() > 10, "{} feeds", feeds.len());
    let compared: usize = feeds.iter().map(|f| agrees(f).expect("agrees")).sum();
    assert!(compared > 600, "only {compared} records compared");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn feeds_with_one_byte_changed(which in any::<usize>(), at in any::<usize>(), byte in any::<u8>()) {
        let feeds = fixture_feeds();
        let mut feed = feeds[which % feeds.len()].clone();
        let n = feed.len();
        if n > 0 {
            feed[at % n] = byte;
        }
        agrees(&feed)?;
    }
}
