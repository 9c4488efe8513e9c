//! Creates the template's table, queues and bucket in moto from their own definitions,
//! so the template stays the one source of truth for what exists.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, StreamSpecification, StreamViewType, TimeToLiveSpecification,
};
use aws_sdk_s3::types::{
    BucketVersioningStatus, Event, FilterRule, FilterRuleName, NotificationConfiguration,
    NotificationConfigurationFilter, QueueConfiguration, S3KeyFilter, VersioningConfiguration,
};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use aws_sdk_dynamodb::config::Credentials;

use crate::template::{Error, Template};

pub struct Clients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub kms: aws_sdk_kms::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub events: aws_sdk_eventbridge::Client,
}

fn text(v: &Value, name: &str) -> String {
    match &v[name] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn key_schema(v: &Value) -> Result<Vec<KeySchemaElement>, Error> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|k| {
            Ok(KeySchemaElement::builder()
                .attribute_name(text(k, "AttributeName"))
                .key_type(KeyType::from(text(k, "KeyType").as_str()))
                .build()?)
        })
        .collect()
}

pub async fn tables(template: &mut Template, clients: &Clients) -> Result<(), Error> {
    let tables: Vec<String> = template.resources("AWS::DynamoDB::Table").into_iter().map(|(id, _)| id).collect();
    for id in tables {
        let name = template.physical_name(&id)?;
        let props = |p: &str| template.property(&id, p).map(Option::unwrap_or_default);
        let mut create = clients
            .dynamodb
            .create_table()
            .table_name(&name)
            .billing_mode(match props("BillingMode")? {
                Value::String(mode) => BillingMode::from(mode.as_str()),
                _ => BillingMode::PayPerRequest,
            })
            .set_key_schema(Some(key_schema(&props("KeySchema")?)?));
        for a in props("AttributeDefinitions")?.as_array().into_iter().flatten() {
            create = create.attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(text(a, "AttributeName"))
                    .attribute_type(ScalarAttributeType::from(text(a, "AttributeType").as_str()))
                    .build()?,
            );
        }
        for index in props("GlobalSecondaryIndexes")?.as_array().into_iter().flatten() {
            let projection = ProjectionType::from(text(&index["Projection"], "ProjectionType").as_str());
            create = create.global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(text(index, "IndexName"))
                    .set_key_schema(Some(key_schema(&index["KeySchema"])?))
                    .projection(Projection::builder().projection_type(projection).build())
                    .build()?,
            );
        }
        let stream = props("StreamSpecification")?;
        if let Some(view) = stream["StreamViewType"].as_str() {
            create = create.stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::from(view))
                    .build()?,
            );
        }
        let created = match create.send().await {
            Ok(created) => created.table_description,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => {
                // Made by an earlier start against the same moto: only its stream is news.
                let existing = clients.dynamodb.describe_table().table_name(&name).send().await?.table;
                if let Some(arn) = existing.and_then(|t| t.latest_stream_arn) {
                    template.created(&format!("{id}.StreamArn"), arn);
                }
                continue;
            }
            Err(e) => {
                return Err(format!("create table {name}: {}", aws_sdk_dynamodb::error::DisplayErrorContext(e)).into());
            }
        };
        let ttl = props("TimeToLiveSpecification")?;
        if let Some(arn) = created.and_then(|t| t.latest_stream_arn) {
            template.created(&format!("{id}.StreamArn"), arn);
        }
        if ttl["Enabled"] == Value::Bool(true) {
            clients
                .dynamodb
                .update_time_to_live()
                .table_name(&name)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .attribute_name(text(&ttl, "AttributeName"))
                        .enabled(true)
                        .build()?,
                )
                .send()
                .await?;
        }
    }
    Ok(())
}

/// The queue a local rule copies every event of bus `bus` (a logical id) into: the
/// local stack's own subscriber, which the tests read (not in the template: in AWS the
/// subscribers are other services').
pub fn event_tap(template: &Template, bus: &str) -> Result<(String, String), Error> {
    let name = format!("{}-tap", template.physical_name(bus)?);
    let site = template.site();
    Ok((
        format!("{}/{}/{name}", site.endpoint, site.account),
        format!("arn:aws:sqs:{}:{}:{name}", site.region, site.account),
    ))
}

/// The template's event buses, each with the local tap: a rule that sends every event
/// Peyman publishes to a queue the tests read.
pub async fn buses(template: &Template, clients: &Clients) -> Result<(), Error> {
    for (id, _) in template.resources("AWS::Events::EventBus") {
        let name = template.physical_name(&id)?;
        if clients.events.describe_event_bus().name(&name).send().await.is_err() {
            clients.events.create_event_bus().name(&name).send().await?;
        }
        let (_, tap_arn) = event_tap(template, &id)?;
        let tap = format!("{name}-tap");
        clients.sqs.create_queue().queue_name(&tap).send().await?;
        let pattern = serde_json::json!({ "source": [peyman_rules::domain_event::SOURCE] }).to_string();
        clients.events.put_rule().name(&tap).event_bus_name(&name).event_pattern(pattern).send().await?;
        let target = aws_sdk_eventbridge::types::Target::builder().id("tap").arn(tap_arn).build()?;
        clients.events.put_targets().rule(&tap).event_bus_name(&name).targets(target).send().await?;
    }
    Ok(())
}

/// Queues, dead-letter queues first so redrive policies can name them.
pub async fn queues(template: &Template, clients: &Clients) -> Result<(), Error> {
    let mut queues = template.resources("AWS::SQS::Queue");
    queues.sort_by_key(|(id, _)| template.property(id, "RedrivePolicy").ok().flatten().is_some());
    for (id, _) in queues {
        let mut create = clients.sqs.create_queue().queue_name(template.physical_name(&id)?);
        for (property, attribute) in [
            ("VisibilityTimeout", QueueAttributeName::VisibilityTimeout),
            ("MessageRetentionPeriod", QueueAttributeName::MessageRetentionPeriod),
            ("DelaySeconds", QueueAttributeName::DelaySeconds),
        ] {
            if let Some(v) = template.property(&id, property)? {
                create = create.attributes(attribute, v.to_string().trim_matches('"').to_owned());
            }
        }
        if let Some(redrive) = template.property(&id, "RedrivePolicy")? {
            create = create.attributes(QueueAttributeName::RedrivePolicy, redrive.to_string());
        }
        create.send().await?;
    }
    Ok(())
}

/// KMS keys with their spec and usage, each under the alias its `!Ref` resolves to
/// locally (KMS picks key ids itself; an alias names the key wherever an id is taken).
/// Creates the template's KMS keys (under their aliases) and records their ARNs in the
/// template, which the functions' policies name.
pub async fn keys(template: &mut Template, clients: &Clients) -> Result<(), Error> {
    for (id, _) in template.resources("AWS::KMS::Key").into_iter().map(|(id, v)| (id, v.clone())).collect::<Vec<_>>() {
        let alias = template.key_alias(&id)?;
        if let Ok(existing) = clients.kms.describe_key().key_id(&alias).send().await {
            let arn = existing.key_metadata().and_then(|m| m.arn()).ok_or("KMS described a key without an ARN")?;
            template.created(&id, arn.to_owned());
            continue;
        }
        let props = |p: &str| template.property(&id, p).map(|v| v.and_then(|v| v.as_str().map(str::to_owned)));
        let mut create = clients.kms.create_key();
        if let Some(spec) = props("KeySpec")? {
            create = create.key_spec(aws_sdk_kms::types::KeySpec::from(spec.as_str()));
        }
        if let Some(usage) = props("KeyUsage")? {
            create = create.key_usage(aws_sdk_kms::types::KeyUsageType::from(usage.as_str()));
        }
        if let Some(description) = props("Description")? {
            create = create.description(description);
        }
        let key = create
            .send()
            .await
            .map_err(|e| format!("create key {id}: {}", aws_sdk_kms::error::DisplayErrorContext(e)))?;
        let metadata = key.key_metadata().ok_or("KMS returned no key")?;
        template.created(&id, metadata.arn().ok_or("KMS returned a key without an ARN")?.to_owned());
        clients.kms.create_alias().alias_name(&alias).target_key_id(metadata.key_id()).send().await?;
    }
    Ok(())
}

/// The template's Secrets Manager secrets, each under its physical name with the text the
/// template gives it (the local parameters'), its ARN (Secrets Manager's choice) recorded
/// for the `!Ref`s of the functions' environments and policies.
pub async fn secrets(template: &mut Template, clients: &Clients) -> Result<(), Error> {
    for (id, _) in
        template.resources("AWS::SecretsManager::Secret").into_iter().map(|(id, v)| (id, v.clone())).collect::<Vec<_>>()
    {
        let name = template.physical_name(&id)?;
        let text =
            template.property(&id, "SecretString")?.and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        let arn = match clients.secrets.describe_secret().secret_id(&name).send().await {
            Ok(existing) => {
                clients.secrets.put_secret_value().secret_id(&name).secret_string(&text).send().await?;
                existing.arn().ok_or("Secrets Manager described a secret without an ARN")?.to_owned()
            }
            Err(_) => {
                let made =
                    clients.secrets.create_secret().name(&name).secret_string(&text).send().await.map_err(|e| {
                        format!("create secret {id}: {}", aws_sdk_secretsmanager::error::DisplayErrorContext(e))
                    })?;
                made.arn().ok_or("Secrets Manager made a secret without an ARN")?.to_owned()
            }
        };
        template.created(&id, arn);
    }
    Ok(())
}

/// Access keys of each function's own IAM user, whose policy is the function's policy in
/// the template: the local stand-in for its execution role. moto checks every call
/// against it (`moto_server.py`). The users are made by `principals.py` (boto3, in moto's
/// venv), as the administrator whose key is in this process's environment.
pub fn principals(template: &Template) -> Result<BTreeMap<String, Credentials>, Error> {
    let mut policies = serde_json::Map::new();
    for id in template.function_ids() {
        policies.insert(template.principal(&id), template.function_policy(&id)?);
    }
    let python = std::env::var("MOTO_PYTHON").unwrap_or_else(|_| ".venv/moto/bin/python".into());
    let mut child = Command::new(&python)
        .arg("infra/local/principals.py")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("{python} infra/local/principals.py: {e}"))?;
    child.stdin.take().ok_or("no stdin")?.write_all(Value::Object(policies).to_string().as_bytes())?;
    let output = child.wait_with_output()?;
    if !output.status.success() {
        return Err(format!("principals.py failed ({})", output.status).into());
    }
    let keys: BTreeMap<String, BTreeMap<String, String>> = serde_json::from_slice(&output.stdout)?;
    template
        .function_ids()
        .into_iter()
        .map(|id| {
            let key = keys.get(&template.principal(&id)).ok_or_else(|| format!("no key made for {id}"))?;
            let credentials =
                Credentials::new(&key["AccessKeyId"], &key["SecretAccessKey"], None, None, "local principal");
            Ok((id, credentials))
        })
        .collect()
}

pub async fn buckets(template: &Template, clients: &Clients) -> Result<(), Error> {
    for (id, _) in template.resources("AWS::S3::Bucket") {
        let name = template.physical_name(&id)?;
        // Object Lock is chosen when a bucket is made (it turns versioning on too).
        let locked = template.property(&id, "ObjectLockEnabled")?.is_some_and(|v| v == true || v == "true");
        match clients.s3.create_bucket().bucket(&name).object_lock_enabled_for_bucket(locked).send().await {
            Ok(_) => {}
            Err(e) if e.as_service_error().is_some_and(|e| e.is_bucket_already_owned_by_you()) => {}
            Err(e) => return Err(format!("create bucket {name}: {}", aws_sdk_s3::error::DisplayErrorContext(e)).into()),
        }
        if let Some(versioning) = template.property(&id, "VersioningConfiguration")?
            && text(&versioning, "Status") == "Enabled"
        {
            clients
                .s3
                .put_bucket_versioning()
                .bucket(&name)
                .versioning_configuration(
                    VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build(),
                )
                .send()
                .await?;
        }
        let notifications = template.property(&id, "NotificationConfiguration")?.unwrap_or_default();
        let mut config = NotificationConfiguration::builder();
        for q in notifications["QueueConfigurations"].as_array().into_iter().flatten() {
            let mut rules = Vec::new();
            for rule in q["Filter"]["S3Key"]["Rules"].as_array().into_iter().flatten() {
                rules.push(
                    FilterRule::builder()
                        .name(FilterRuleName::from(text(rule, "Name").as_str()))
                        .value(text(rule, "Value"))
                        .build(),
                );
            }
            config = config.queue_configurations(
                QueueConfiguration::builder()
                    .queue_arn(text(q, "Queue"))
                    .events(Event::from(text(q, "Event").as_str()))
                    .filter(
                        NotificationConfigurationFilter::builder()
                            .key(S3KeyFilter::builder().set_filter_rules(Some(rules)).build())
                            .build(),
                    )
                    .build()?,
            );
        }
        clients
            .s3
            .put_bucket_notification_configuration()
            .bucket(&name)
            .notification_configuration(config.build())
            .send()
            .await?;
    }
    Ok(())
}
