//! The capacity meter (issue 12): every call our AWS clients make, metered as AWS bills
//! it. DynamoDB calls are converted into capacity units by DynamoDB's published rules
//! ("DynamoDB item sizes and formats", "Read/write capacity units"):
//!
//! - an item's size is the UTF-8 length of its attribute names plus its values (a string
//!   its UTF-8 bytes, a number one byte per two significant digits plus one, a binary its
//!   raw bytes, a boolean or null one byte, a list or map three bytes plus one per element
//!   plus its elements);
//! - a read is one unit per 4 KB, halved when eventually consistent: a GetItem by its
//!   item (at least one unit when there is none), a Query by the sum of what it returned,
//!   a BatchGetItem item by item;
//! - a write is one unit per 1 KB of the item, doubled inside a transaction. Both indexes
//!   project keys only, so a write reaches an index only when it changes the item's key in
//!   it: one index write to add or remove the entry, two to move it (a delete and a put),
//!   none when the key stays (DynamoDB's "Writes to a global secondary index"). Each is
//!   one unit: an entry is the table's key and the index's, well under 1 KB. The meter
//!   keeps the index keys of the items it saw written to tell which case a write is.
//!
//! What the request does not show is estimated from below, and said here: an update or
//! a delete is charged by its key and values (in DynamoDB it is the larger of the item
//! before and after; ours are counters and markers, under 1 KB, so one unit), and no
//! update of ours sets an index key, so an update writes no index; a Query's filter is
//! charged by what it returned, not what it read; an item written before the meter was
//! switched on counts as not in any index. SQS, S3 and KMS are billed per request: each
//! attempt that reached the service is counted (a presigned link is signed here and sent
//! by a browser: none).
//!
//! The totals are the process's since it was switched on ([`enable`]). The local gateway
//! switches it on and shows them at `GET /_local/meter`, and `make bench` turns them into
//! capacity per order. A deployed function never switches it on: sizing every item it
//! reads and writes would be work on every request that nobody reads.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};

use aws_sdk_dynamodb::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeDeserializationInterceptorContextRef,
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::operation::batch_get_item::{BatchGetItemInput, BatchGetItemOutput};
use aws_sdk_dynamodb::operation::delete_item::DeleteItemInput;
use aws_sdk_dynamodb::operation::get_item::{GetItemInput, GetItemOutput};
use aws_sdk_dynamodb::operation::put_item::PutItemInput;
use aws_sdk_dynamodb::operation::query::{QueryInput, QueryOutput};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
use aws_sdk_dynamodb::operation::update_item::UpdateItemInput;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use serde::{Deserialize, Serialize};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Item = HashMap<String, AttributeValue>;

/// What the process's AWS calls cost so far. Read units are in halves (an eventually
/// consistent read of up to 4 KB is half a unit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub dynamodb_requests: u64,
    pub items_read: u64,
    pub bytes_read: u64,
    pub read_half_units: u64,
    pub items_written: u64,
    pub bytes_written: u64,
    pub write_units: u64,
    pub sqs_requests: u64,
    pub s3_requests: u64,
    pub kms_requests: u64,
    /// Events put on the EventBridge bus (billed per event of up to 64 KB).
    #[serde(default)]
    pub events_published: u64,
}

impl Usage {
    /// What was used between `earlier` and this.
    pub fn since(&self, earlier: &Usage) -> Usage {
        Usage {
            dynamodb_requests: self.dynamodb_requests - earlier.dynamodb_requests,
            items_read: self.items_read - earlier.items_read,
            bytes_read: self.bytes_read - earlier.bytes_read,
            read_half_units: self.read_half_units - earlier.read_half_units,
            items_written: self.items_written - earlier.items_written,
            bytes_written: self.bytes_written - earlier.bytes_written,
            write_units: self.write_units - earlier.write_units,
            sqs_requests: self.sqs_requests - earlier.sqs_requests,
            s3_requests: self.s3_requests - earlier.s3_requests,
            kms_requests: self.kms_requests - earlier.kms_requests,
            events_published: self.events_published - earlier.events_published,
        }
    }
}

/// The process's counters, one per field of [`Usage`].
struct Counters([AtomicU64; 11]);

static COUNTERS: Counters = Counters([const { AtomicU64::new(0) }; 11]);

#[derive(Clone, Copy)]
enum Counter {
    DynamodbRequests,
    ItemsRead,
    BytesRead,
    ReadHalfUnits,
    ItemsWritten,
    BytesWritten,
    WriteUnits,
    SqsRequests,
    S3Requests,
    KmsRequests,
    EventsPublished,
}

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Switches the meter on for this process; until then its interceptors do nothing.
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

fn add(counter: Counter, n: u64) {
    COUNTERS.0[counter as usize].fetch_add(n, Ordering::Relaxed);
}

/// What this process's AWS calls have cost since it started.
pub fn totals() -> Usage {
    let get = |c: Counter| COUNTERS.0[c as usize].load(Ordering::Relaxed);
    Usage {
        dynamodb_requests: get(Counter::DynamodbRequests),
        items_read: get(Counter::ItemsRead),
        bytes_read: get(Counter::BytesRead),
        read_half_units: get(Counter::ReadHalfUnits),
        items_written: get(Counter::ItemsWritten),
        bytes_written: get(Counter::BytesWritten),
        write_units: get(Counter::WriteUnits),
        sqs_requests: get(Counter::SqsRequests),
        s3_requests: get(Counter::S3Requests),
        kms_requests: get(Counter::KmsRequests),
        events_published: get(Counter::EventsPublished),
    }
}

/// The size DynamoDB gives a number: one byte per two significant digits, plus one.
fn number_size(number: &str) -> u64 {
    let mantissa = number.split(['e', 'E']).next().unwrap_or_default();
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len().max(1) as u64;
    significant.div_ceil(2) + 1
}

/// The size DynamoDB gives a value, without its attribute's name.
fn value_size(value: &AttributeValue) -> u64 {
    match value {
        AttributeValue::S(s) => s.len() as u64,
        AttributeValue::N(n) => number_size(n),
        AttributeValue::B(b) => b.as_ref().len() as u64,
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(set) => set.iter().map(|s| s.len() as u64).sum(),
        AttributeValue::Ns(set) => set.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(set) => set.iter().map(|b| b.as_ref().len() as u64).sum(),
        AttributeValue::L(list) => 3 + list.iter().map(|v| 1 + value_size(v)).sum::<u64>(),
        AttributeValue::M(map) => 3 + map.iter().map(|(k, v)| 1 + k.len() as u64 + value_size(v)).sum::<u64>(),
        _ => 0,
    }
}

/// An item's size as DynamoDB counts it: its attributes' names and values.
pub fn item_size(item: &Item) -> u64 {
    item.iter().map(|(name, value)| name.len() as u64 + value_size(value)).sum()
}

/// Read units, in halves, for reading `bytes` at once: one unit per 4 KB, at least one,
/// halved when eventually consistent.
pub fn read_half_units(bytes: u64, consistent: bool) -> u64 {
    let units = bytes.div_ceil(4096).max(1);
    if consistent { units * 2 } else { units }
}

/// Write units for writing an item of `bytes`: one per 1 KB, at least one, doubled
/// inside a transaction.
pub fn write_units(bytes: u64, transactional: bool) -> u64 {
    let units = bytes.div_ceil(1024).max(1);
    if transactional { units * 2 } else { units }
}

/// One index of the table, by the names of its key attributes.
#[derive(Debug, Clone, Copy)]
pub struct IndexKeys {
    pub partition: &'static str,
    pub sort: &'static str,
}

/// Each item's entries in the indexes (its index keys, `None` where it is in none), by its
/// table key, as the meter last saw them written.
/// Our keys are strings.
type Entries = Vec<Option<(String, String)>>;
static INDEX_ENTRIES: LazyLock<Mutex<HashMap<(String, String), Entries>>> = LazyLock::new(Default::default);

/// The index writes of writing `item` (`None`: deleting it) at `key`: one to add or remove
/// an entry, two to move it, none to leave it. Each is one unit: an entry holds keys only.
fn index_writes(key: &Item, item: Option<&Item>, indexes: &[IndexKeys], table_key: [&str; 2]) -> u64 {
    let text = |item: &Item, name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let (Some(pk), Some(sk)) = (text(key, table_key[0]), text(key, table_key[1])) else { return 0 };
    let entries: Entries = indexes
        .iter()
        .map(|index| {
            let item = item?;
            Some((text(item, index.partition)?, text(item, index.sort)?))
        })
        .collect();
    let mut seen = INDEX_ENTRIES.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let before = seen.remove(&(pk.clone(), sk.clone())).unwrap_or_else(|| vec![None; indexes.len()]);
    let writes = before
        .iter()
        .zip(&entries)
        .map(|(was, now)| match (was, now) {
            (None, None) => 0,
            (Some(was), Some(now)) if was == now => 0,
            (Some(_), Some(_)) => 2,
            _ => 1,
        })
        .sum();
    if entries.iter().any(Option::is_some) {
        seen.insert((pk, sk), entries);
    }
    writes
}

/// One write of `bytes`, with the index writes it causes (a unit each).
fn write(bytes: u64, index_writes: u64, transactional: bool) {
    add(Counter::ItemsWritten, 1);
    add(Counter::BytesWritten, bytes);
    add(Counter::WriteUnits, write_units(bytes, transactional) + index_writes);
}

/// One read of `items` at once (a GetItem's item, a Query's page).
fn read(items: &[Item], consistent: bool) {
    let bytes: u64 = items.iter().map(item_size).sum();
    add(Counter::ItemsRead, items.len() as u64);
    add(Counter::BytesRead, bytes);
    add(Counter::ReadHalfUnits, read_half_units(bytes, consistent));
}

/// Whether the read in flight asked for a consistent read (kept from its input, which is
/// gone once its answer is read).
#[derive(Debug, Clone, Copy)]
struct Consistent(bool);

impl Storable for Consistent {
    type Storer = StoreReplace<Self>;
}

/// The lower bound of what an update writes: its key and the values it sets.
fn update_size(key: Option<&Item>, values: Option<&Item>) -> u64 {
    key.map(item_size).unwrap_or(0) + values.map(item_size).unwrap_or(0)
}

/// Meters DynamoDB: writes from what is sent, reads from what comes back. `table_key`
/// names the table's key attributes and `indexes` its indexes' (keys-only projections).
#[derive(Debug)]
pub struct DynamoDbMeter {
    pub table_key: [&'static str; 2],
    pub indexes: &'static [IndexKeys],
}

impl DynamoDbMeter {
    fn put(&self, item: &Item, transactional: bool) {
        let indexes = index_writes(item, Some(item), self.indexes, self.table_key);
        write(item_size(item), indexes, transactional);
    }

    fn delete(&self, key: &Item, transactional: bool) {
        let indexes = index_writes(key, None, self.indexes, self.table_key);
        write(item_size(key), indexes, transactional);
    }
}

impl Intercept for DynamoDbMeter {
    fn name(&self) -> &'static str {
        "DynamoDbMeter"
    }

    fn read_before_serialization(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if !enabled() {
            return Ok(());
        }
        let input = context.input();
        if let Some(put) = input.downcast_ref::<PutItemInput>() {
            self.put(put.item.as_ref().unwrap_or(&Item::new()), false);
        } else if let Some(update) = input.downcast_ref::<UpdateItemInput>() {
            write(update_size(update.key.as_ref(), update.expression_attribute_values.as_ref()), 0, false);
        } else if let Some(delete) = input.downcast_ref::<DeleteItemInput>() {
            self.delete(delete.key.as_ref().unwrap_or(&Item::new()), false);
        } else if let Some(transaction) = input.downcast_ref::<TransactWriteItemsInput>() {
            for one in transaction.transact_items.iter().flatten() {
                if let Some(put) = &one.put {
                    self.put(&put.item, true);
                } else if let Some(update) = &one.update {
                    write(update_size(Some(&update.key), update.expression_attribute_values.as_ref()), 0, true);
                } else if let Some(delete) = &one.delete {
                    self.delete(&delete.key, true);
                } else if let Some(check) = &one.condition_check {
                    write(item_size(&check.key), 0, true);
                }
            }
        } else if let Some(get) = input.downcast_ref::<GetItemInput>() {
            cfg.interceptor_state().store_put(Consistent(get.consistent_read == Some(true)));
        } else if let Some(query) = input.downcast_ref::<QueryInput>() {
            cfg.interceptor_state().store_put(Consistent(query.consistent_read == Some(true)));
        } else if let Some(batch) = input.downcast_ref::<BatchGetItemInput>() {
            let consistent = batch.request_items.iter().flatten().any(|(_, keys)| keys.consistent_read == Some(true));
            cfg.interceptor_state().store_put(Consistent(consistent));
        }
        Ok(())
    }

    fn read_before_transmit(
        &self,
        _: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if !enabled() {
            return Ok(());
        }
        add(Counter::DynamodbRequests, 1);
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if !enabled() {
            return Ok(());
        }
        let Ok(output) = context.output_or_error() else { return Ok(()) };
        let consistent = cfg.load::<Consistent>().is_some_and(|c| c.0);
        if let Some(get) = output.downcast_ref::<GetItemOutput>() {
            read(get.item.as_slice(), consistent);
        } else if let Some(query) = output.downcast_ref::<QueryOutput>() {
            read(query.items.as_deref().unwrap_or_default(), consistent);
        } else if let Some(batch) = output.downcast_ref::<BatchGetItemOutput>() {
            for item in batch.responses.iter().flat_map(|r| r.values()).flatten() {
                read(std::slice::from_ref(item), consistent);
            }
        }
        Ok(())
    }
}

/// Counts the requests of a service billed per request (SQS, S3, KMS).
#[derive(Debug)]
pub struct RequestMeter(Service);

#[derive(Debug, Clone, Copy)]
pub enum Service {
    Sqs,
    S3,
    Kms,
}

impl RequestMeter {
    pub fn new(service: Service) -> RequestMeter {
        RequestMeter(service)
    }
}

impl Intercept for RequestMeter {
    fn name(&self) -> &'static str {
        "RequestMeter"
    }

    // After transmit, not before: a presigned link runs the request up to its transmission
    // and stops (the browser sends it), and a request that never reached the service is
    // not billed.
    fn read_after_transmit(
        &self,
        _: &BeforeDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        count_request(self.0);
        Ok(())
    }
}

/// One request to `service`, for the clients that are not the SDK's (`s3`).
pub fn count_request(service: Service) {
    if !enabled() {
        return;
    }
    let counter = match service {
        Service::Sqs => Counter::SqsRequests,
        Service::S3 => Counter::S3Requests,
        Service::Kms => Counter::KmsRequests,
    };
    add(counter, 1);
}

/// `n` events put on the bus (`adapters::events`).
pub fn count_events(n: u64) {
    if enabled() {
        add(Counter::EventsPublished, n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::primitives::Blob;

    fn item(pairs: &[(&str, AttributeValue)]) -> Item {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    #[test]
    fn strings_count_their_utf8_bytes_and_their_names() {
        // "پیمان" is five letters of two bytes each; the name is two bytes.
        assert_eq!(item_size(&item(&[("PK", AttributeValue::S("پیمان".into()))])), 2 + 10);
    }

    #[test]
    fn numbers_count_a_byte_per_two_significant_digits_and_one() {
        assert_eq!(number_size("12000000"), 2); // "12": one byte, plus one
        assert_eq!(number_size("123"), 3);
        assert_eq!(number_size("-0.0012300"), 3);
        assert_eq!(number_size("0"), 2);
        assert_eq!(item_size(&item(&[("v", AttributeValue::N("1234567".into()))])), 1 + 5);
    }

    #[test]
    fn binaries_booleans_and_nulls() {
        let it = item(&[
            ("b", AttributeValue::B(Blob::new(vec![0u8; 10]))),
            ("t", AttributeValue::Bool(true)),
            ("n", AttributeValue::Null(true)),
        ]);
        assert_eq!(item_size(&it), (1 + 10) + (1 + 1) + (1 + 1));
    }

    #[test]
    fn lists_and_maps_cost_three_bytes_and_one_per_element() {
        let list = AttributeValue::L(vec![AttributeValue::S("ab".into()), AttributeValue::Bool(false)]);
        assert_eq!(item_size(&item(&[("l", list)])), 1 + 3 + (1 + 2) + (1 + 1));
        let map = AttributeValue::M(item(&[("k", AttributeValue::S("xyz".into()))]));
        assert_eq!(item_size(&item(&[("m", map)])), 1 + 3 + (1 + 1 + 3));
        assert_eq!(item_size(&item(&[("e", AttributeValue::L(vec![]))])), 1 + 3);
    }

    #[test]
    fn reads_are_units_of_4_kb_halved_when_eventually_consistent() {
        assert_eq!(read_half_units(0, false), 1, "a read that finds nothing still costs half a unit");
        assert_eq!(read_half_units(4096, true), 2);
        assert_eq!(read_half_units(4097, true), 4);
        assert_eq!(read_half_units(4097, false), 2);
    }

    #[test]
    fn writes_are_units_of_1_kb_doubled_in_a_transaction() {
        assert_eq!(write_units(1, false), 1);
        assert_eq!(write_units(1024, false), 1);
        assert_eq!(write_units(1025, false), 2);
        assert_eq!(write_units(1025, true), 4);
    }

    #[test]
    fn a_write_reaches_an_index_only_when_it_adds_moves_or_removes_the_items_entry() {
        const INDEXES: &[IndexKeys] =
            &[IndexKeys { partition: "GSI1PK", sort: "GSI1SK" }, IndexKeys { partition: "GSI2PK", sort: "GSI2SK" }];
        let at = |sk: &str, gsi1: Option<&str>, gsi2: Option<&str>| {
            let mut it = item(&[("PK", AttributeValue::S("META#test".into())), ("SK", AttributeValue::S(sk.into()))]);
            for (name, value) in [("GSI1", gsi1), ("GSI2", gsi2)] {
                if let Some(value) = value {
                    it.insert(format!("{name}PK"), AttributeValue::S(value.into()));
                    it.insert(format!("{name}SK"), AttributeValue::S("1".into()));
                }
            }
            it.insert("state".into(), AttributeValue::S(format!("{gsi1:?}{gsi2:?}")));
            it
        };
        let writes = |it: &Item| index_writes(it, Some(it), INDEXES, ["PK", "SK"]);
        assert_eq!(writes(&at("plain", None, None)), 0, "in no index");
        assert_eq!(writes(&at("a", Some("buyer"), Some("seller"))), 2, "new in both");
        assert_eq!(writes(&at("a", Some("buyer"), Some("seller"))), 0, "its entries stay (keys only)");
        assert_eq!(writes(&at("a", Some("buyer"), Some("queue"))), 2, "moved in one: a delete and a put");
        assert_eq!(writes(&at("a", Some("buyer"), None)), 1, "removed from one");
        let key = item(&[("PK", AttributeValue::S("META#test".into())), ("SK", AttributeValue::S("a".into()))]);
        assert_eq!(index_writes(&key, None, INDEXES, ["PK", "SK"]), 1, "deleted: its one entry goes");
        assert_eq!(writes(&at("a", Some("buyer"), None)), 1, "after its delete it is new again");
    }

    #[test]
    fn usage_since_subtracts_field_by_field() {
        let earlier = Usage { write_units: 3, sqs_requests: 1, ..Usage::default() };
        let later = Usage { write_units: 10, sqs_requests: 1, read_half_units: 4, ..Usage::default() };
        assert_eq!(later.since(&earlier), Usage { write_units: 7, read_half_units: 4, ..Usage::default() });
    }
}
