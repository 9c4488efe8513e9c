//! DynamoDB stream event sources, as Lambda's poller runs them: read the table's stream,
//! keep the records one of the source's filter patterns matches, invoke the function
//! with them in order, and on a reported failure (or an error) invoke it again from the
//! failed record on, after `retry_after`, until it goes: nothing behind a record goes
//! ahead of it (`MaximumRetryAttempts: -1`, as the template asks).

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodbstreams::Client;
use aws_sdk_dynamodbstreams::types::{Record, ShardIteratorType};
use serde_json::{Value as Json, json};

use crate::functions;
use crate::server::Gateway;
use crate::template::Error;

pub struct Source {
    pub function: String,
    pub stream_arn: String,
    pub batch_size: i32,
    pub starting_position: String,
    pub filters: Vec<Json>,
    pub region: String,
    /// Locally a failed batch is retried after this long (Lambda backs off for seconds).
    pub retry_after: Duration,
}

/// Whether `value` (a record as the function receives it) matches `pattern`, in the part
/// of Lambda's filter syntax the template uses: objects name fields to match, arrays list
/// the exact values allowed.
pub fn matches(pattern: &Json, value: &Json) -> bool {
    match pattern {
        Json::Object(fields) => fields.iter().all(|(name, p)| value.get(name).is_some_and(|v| matches(p, v))),
        Json::Array(allowed) => allowed.iter().any(|a| a == value),
        _ => false,
    }
}

/// Refuses a pattern that uses more of the syntax than [`matches`] knows (content
/// filters such as `{"exists": true}` or `{"prefix": …}`): it would match nothing here.
pub fn check_pattern(pattern: &Json) -> Result<(), Error> {
    match pattern {
        Json::Object(fields) => fields.values().try_for_each(check_pattern),
        Json::Array(allowed) if allowed.iter().all(|a| !a.is_object() && !a.is_array()) => Ok(()),
        other => Err(format!("filter pattern part {other} is not supported by the local stack").into()),
    }
}

/// A stream record as Lambda hands it to the function (DynamoDB JSON images).
fn lambda_record(record: &Record, source: &Source) -> Result<Json, Error> {
    let change = record.dynamodb.as_ref().ok_or("a stream record without its change")?;
    let image = |i: Option<&std::collections::HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>>| {
        i.map(|i| serde_json::to_value(serde_dynamo::Item::from(i.clone()))).transpose()
    };
    Ok(json!({
        "eventID": record.event_id,
        "eventName": record.event_name.as_ref().map(|n| n.as_str()),
        "eventVersion": record.event_version,
        "eventSource": "aws:dynamodb",
        "awsRegion": source.region,
        "eventSourceARN": source.stream_arn,
        "dynamodb": {
            "ApproximateCreationDateTime": change.approximate_creation_date_time.map(|t| t.as_secs_f64()),
            "Keys": image(change.keys.as_ref())?,
            "NewImage": image(change.new_image.as_ref())?,
            "SequenceNumber": change.sequence_number,
            "SizeBytes": change.size_bytes,
            "StreamViewType": change.stream_view_type.as_ref().map(|v| v.as_str()),
        },
    }))
}

pub async fn run(gateway: Arc<Gateway>, streams: Client, source: Source) {
    let mut iterator = loop {
        match first_iterator(&streams, &source).await {
            Ok(iterator) => break iterator,
            Err(e) => {
                tracing::warn!(stream = source.stream_arn, error = %e, "stream not readable yet");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    loop {
        let read = streams.get_records().shard_iterator(&iterator).limit(source.batch_size.clamp(1, 1000)).send().await;
        let out = match read {
            Ok(out) => out,
            Err(e) => {
                tracing::warn!(stream = source.stream_arn, error = %aws_sdk_dynamodbstreams::error::DisplayErrorContext(e), "get records failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let mut batch = Vec::new();
        for record in out.records.unwrap_or_default() {
            match lambda_record(&record, &source) {
                Ok(record) if source.filters.is_empty() || source.filters.iter().any(|f| matches(f, &record)) => {
                    batch.push(record)
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "a stream record could not be read; skipped"),
            }
        }
        if batch.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        } else {
            deliver(&gateway, &source, batch).await;
        }
        match out.next_shard_iterator {
            Some(next) => iterator = next,
            // The shard closed: locally there is one, and it never closes.
            None => return,
        }
    }
}

async fn first_iterator(streams: &Client, source: &Source) -> Result<String, Error> {
    let description = streams.describe_stream().stream_arn(&source.stream_arn).send().await?;
    let shard = description
        .stream_description
        .and_then(|d| d.shards)
        .and_then(|shards| shards.into_iter().next())
        .and_then(|s| s.shard_id)
        .ok_or("the stream has no shard")?;
    let out = streams
        .get_shard_iterator()
        .stream_arn(&source.stream_arn)
        .shard_id(shard)
        .shard_iterator_type(ShardIteratorType::from(source.starting_position.as_str()))
        .send()
        .await?;
    out.shard_iterator.ok_or_else(|| "no shard iterator".into())
}

/// Invokes the function with `batch` until every record of it went: after a reported
/// failure, from the failed record on; after an error, the whole batch again.
async fn deliver(gateway: &Gateway, source: &Source, mut batch: Vec<Json>) {
    loop {
        let event = match serde_json::from_value::<aws_lambda_events::dynamodb::Event>(json!({ "Records": batch })) {
            Ok(event) => event,
            Err(e) => {
                tracing::error!(error = %e, "could not build the stream event; the batch is skipped");
                return;
            }
        };
        let failed = match functions::invoke_stream(gateway.app(&source.function), &source.function, event).await {
            Ok(response) => match response.batch_item_failures.into_iter().next() {
                None => return,
                Some(failure) => failure.item_identifier,
            },
            Err(e) => {
                tracing::error!(function = source.function, error = %e, "function failed; the whole batch is retried");
                None
            }
        };
        if let Some(sequence) = failed {
            let at = batch.iter().position(|r| r["dynamodb"]["SequenceNumber"].as_str() == Some(sequence.as_str()));
            batch.drain(..at.unwrap_or(0));
        }
        tokio::time::sleep(source.retry_after).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_keeps_only_the_records_it_names() {
        let pattern = json!({"eventName": ["INSERT"], "dynamodb": {"NewImage": {"entity": {"S": ["event", "relay"]}}}});
        check_pattern(&pattern).unwrap();
        let record = |name: &str, entity: &str| json!({"eventName": name, "dynamodb": {"NewImage": {"entity": {"S": entity}, "PK": {"S": "x"}}}});
        assert!(matches(&pattern, &record("INSERT", "event")));
        assert!(matches(&pattern, &record("INSERT", "relay")));
        assert!(!matches(&pattern, &record("MODIFY", "event")), "an update");
        assert!(!matches(&pattern, &record("INSERT", "order")), "another entity");
        assert!(!matches(&pattern, &json!({"eventName": "REMOVE", "dynamodb": {}})), "a removal has no new image");
        assert!(check_pattern(&json!({"dynamodb": {"NewImage": {"followups": {"L": [{"exists": true}]}}}})).is_err());
    }
}
