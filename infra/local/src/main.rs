//! `peyman-local`: provisions the template's resources in moto, then serves its HttpApi
//! routes on 127.0.0.1 and polls its SQS and DynamoDB stream event sources, running the
//! functions in-process.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::config::SharedCredentialsProvider;
use peyman_local::provision::{self, Clients};
use peyman_local::server::{self, Gateway};
use peyman_local::template::Error;
use peyman_local::{function_config, functions, local_template, poller, schedule, stream, tokens};

#[tokio::main]
async fn main() -> Result<(), Error> {
    peyman::adapters::telemetry::init();
    // `GET /_local/meter` shows what the functions' AWS calls cost (`make bench`).
    peyman::adapters::meter::enable();
    let template_path = std::env::var("TEMPLATE").unwrap_or_else(|_| "infra/template.yaml".into());
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3000);
    let mut template = local_template(&template_path)?;
    if let Some(unknown) = template.function_ids().into_iter().find(|id| !functions::is_known(id)) {
        return Err(format!("{unknown} is in the template but not wired into infra/local/src/functions.rs").into());
    }

    let sdk = peyman::adapters::sdk::config().await;
    let clients = Clients {
        dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
        s3: aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build()),
        sqs: aws_sdk_sqs::Client::new(&sdk),
        kms: aws_sdk_kms::Client::new(&sdk),
        secrets: aws_sdk_secretsmanager::Client::new(&sdk),
        events: aws_sdk_eventbridge::Client::new(&sdk),
    };
    provision::queues(&template, &clients).await?;
    provision::tables(&mut template, &clients).await?;
    provision::buckets(&template, &clients).await?;
    provision::buses(&template, &clients).await?;
    provision::keys(&mut template, &clients).await?;
    provision::secrets(&mut template, &clients).await?;

    // Each function runs as its own IAM user, under its policy in the template; this
    // process keeps the administrator's key for what AWS itself does (provisioning, and
    // the SQS event sources' receive and delete).
    let mut apps = BTreeMap::new();
    for (id, credentials) in provision::principals(&template)? {
        let own = sdk.to_builder().credentials_provider(SharedCredentialsProvider::new(credentials)).build();
        apps.insert(id.clone(), peyman::flows::App::with_sdk(function_config(&template, &id, &own).await?, &own).await);
    }
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let gateway = Arc::new(Gateway {
        apps,
        routes: template.routes(),
        authorizer: template.jwt_authorizer()?,
        cors: template.cors()?,
        account: template.site().account.clone(),
    });

    let retry_after =
        Duration::from_secs(std::env::var("LOCAL_SQS_RETRY_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(1));
    for source in template.queue_sources()? {
        let source = poller::Source {
            queue_url: template.queue_url(&source.queue)?,
            queue_arn: template.arn(&source.queue)?,
            function: source.function,
            batch_size: source.batch_size,
            region: template.site().region.clone(),
            retry_after,
        };
        tokio::spawn(poller::run(gateway.clone(), clients.sqs.clone(), source));
    }

    let streams = aws_sdk_dynamodbstreams::Client::new(&sdk);
    for source in template.stream_sources()? {
        source.filters.iter().try_for_each(stream::check_pattern)?;
        let source = stream::Source {
            stream_arn: template.attribute(&format!("{}.StreamArn", source.table))?,
            function: source.function,
            batch_size: source.batch_size,
            starting_position: source.starting_position,
            filters: source.filters,
            region: template.site().region.clone(),
            retry_after,
        };
        tokio::spawn(stream::run(gateway.clone(), streams.clone(), source));
    }

    for source in template.schedules() {
        tokio::spawn(schedule::run(gateway.clone(), source, template.site().region.clone()));
    }

    let day = 24 * 3600;
    println!("Peyman local gateway on http://127.0.0.1:{port} ({} routes)", gateway.routes.len());
    println!("Demo users (tokens valid 24 h; paste into your shell):");
    println!("export BUYER_TOKEN={}", tokens::mint("demo-buyer", &[], day));
    println!("export SELLER_TOKEN={}", tokens::mint("demo-seller", &[], day));
    println!("export SUPPORT_TOKEN={}", tokens::mint("demo-support", &["support"], day));
    println!("ready");
    server::serve(gateway, listener).await;
    Ok(())
}
