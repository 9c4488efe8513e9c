//! `infra/template.yaml` as the local gateway reads it: parameters, resources, the
//! functions' routes, queues and environment, with CloudFormation's intrinsic functions
//! (`!Ref`, `!GetAtt`, `!Sub`) resolved to local names.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value as Json, json};
use serde_norway::Value;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Where the stack "is": the names that stand in for CloudFormation's pseudo parameters.
#[derive(Debug, Clone)]
pub struct Site {
    pub stack: String,
    pub account: String,
    pub region: String,
    /// Where moto serves SQS; queue URLs are `{endpoint}/{account}/{name}` there.
    pub endpoint: String,
}

#[derive(Debug)]
pub struct Template {
    root: Value,
    site: Site,
    params: HashMap<String, String>,
    /// ARNs known only once the resource exists (a KMS key's id is moto's choice).
    created: HashMap<String, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub function: String,
    pub method: String,
    pub path: String,
    /// False for routes marked `Auth: { Authorizer: NONE }` (webhooks).
    pub authorized: bool,
}

#[derive(Debug, Clone)]
pub struct QueueSource {
    pub function: String,
    pub queue: String,
    pub batch_size: i32,
}

/// A `DynamoDB` event: Lambda's poller reads the table's stream into `function`.
#[derive(Debug, Clone)]
pub struct StreamSource {
    pub function: String,
    /// The table (logical id) whose stream it reads.
    pub table: String,
    pub batch_size: i32,
    /// `TRIM_HORIZON` or `LATEST`.
    pub starting_position: String,
    /// The `FilterCriteria` patterns, parsed; a record must match one (none: every record).
    pub filters: Vec<Json>,
}

/// A `Schedule` event: EventBridge invokes `function` on `expression`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleSource {
    pub function: String,
    pub event: String,
    pub expression: String,
}

/// How often a `rate(N unit)` expression fires; `None` for cron expressions, which have
/// no fixed period.
pub fn rate_period(expression: &str) -> Option<std::time::Duration> {
    let inner = expression.strip_prefix("rate(")?.strip_suffix(')')?;
    let (n, unit) = inner.trim().split_once(' ')?;
    let n: u64 = n.parse().ok()?;
    let seconds = match unit.trim_end_matches('s') {
        "minute" => 60,
        "hour" => 3600,
        "day" => 86_400,
        _ => return None,
    };
    Some(std::time::Duration::from_secs(n * seconds))
}

#[derive(Debug, Clone)]
pub struct JwtAuthorizer {
    pub issuer: String,
    pub audience: Vec<String>,
}

/// A short-form intrinsic such as `!Ref X`: its name without the `!`, and its argument.
fn tagged(v: &Value) -> Option<(String, &Value)> {
    match v {
        Value::Tagged(t) => Some((t.tag.to_string().trim_start_matches('!').to_owned(), &t.value)),
        _ => None,
    }
}

fn str_of(v: &Value) -> Option<&str> {
    v.as_str()
}

impl Template {
    /// Loads the template; `params` override the parameters' defaults.
    pub fn load(path: &str, site: Site, params: &[(&str, &str)]) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        Self::parse(&text, site, params)
    }

    pub fn parse(text: &str, site: Site, params: &[(&str, &str)]) -> Result<Self, Error> {
        let root: Value = serde_norway::from_str(text)?;
        let mut values = HashMap::new();
        if let Some(declared) = root.get("Parameters").and_then(Value::as_mapping) {
            for (name, spec) in declared {
                let name = str_of(name).unwrap_or_default().to_owned();
                if let Some(default) = spec.get("Default") {
                    values.insert(name, scalar(default));
                }
            }
        }
        for (name, value) in params {
            values.insert(name.to_string(), value.to_string());
        }
        Ok(Template { root, site, params: values, created: HashMap::new() })
    }

    pub fn site(&self) -> &Site {
        &self.site
    }

    /// Whether the template declares the parameter `name`.
    pub fn declares(&self, name: &str) -> bool {
        self.root.get("Parameters").and_then(|p| p.get(name)).is_some()
    }

    /// `(logical id, definition)` of every resource of `kind`, in template order.
    pub fn resources(&self, kind: &str) -> Vec<(String, &Value)> {
        self.root
            .get("Resources")
            .and_then(Value::as_mapping)
            .into_iter()
            .flatten()
            .filter(|(_, r)| r.get("Type").and_then(Value::as_str) == Some(kind))
            .map(|(id, r)| (str_of(id).unwrap_or_default().to_owned(), r))
            .collect()
    }

    fn resource(&self, id: &str) -> Option<&Value> {
        self.root.get("Resources")?.get(id)
    }

    fn kind(&self, id: &str) -> Option<&str> {
        self.resource(id)?.get("Type")?.as_str()
    }

    /// A resource property with intrinsics resolved.
    pub fn property(&self, id: &str, name: &str) -> Result<Option<Json>, Error> {
        match self.resource(id).and_then(|r| r.get("Properties")).and_then(|p| p.get(name)) {
            Some(v) => Ok(Some(self.resolve(v)?)),
            None => Ok(None),
        }
    }

    /// The physical name CloudFormation would give a named resource, or ours.
    pub fn physical_name(&self, id: &str) -> Result<String, Error> {
        let explicit = match self.kind(id) {
            Some("AWS::DynamoDB::Table") => self.property(id, "TableName")?,
            Some("AWS::S3::Bucket") => self.property(id, "BucketName")?,
            Some("AWS::SQS::Queue") => self.property(id, "QueueName")?,
            Some("AWS::Events::EventBus") => self.property(id, "Name")?,
            _ => None,
        };
        Ok(match explicit {
            Some(Json::String(name)) => name,
            _ => format!("{}-{}", self.site.stack, id).to_lowercase(),
        })
    }

    pub fn queue_url(&self, id: &str) -> Result<String, Error> {
        Ok(format!("{}/{}/{}", self.site.endpoint, self.site.account, self.physical_name(id)?))
    }

    /// The alias a KMS key is created under locally, which its `!Ref` resolves to.
    pub fn key_alias(&self, id: &str) -> Result<String, Error> {
        Ok(format!("alias/{}", self.physical_name(id)?))
    }

    /// Records the ARN a resource was created with, for `!GetAtt X.Arn` from now on.
    pub fn created(&mut self, id: &str, arn: String) {
        self.created.insert(id.to_owned(), arn);
    }

    pub fn arn(&self, id: &str) -> Result<String, Error> {
        if let Some(arn) = self.created.get(id) {
            return Ok(arn.clone());
        }
        let Site { account, region, .. } = &self.site;
        let name = self.physical_name(id)?;
        Ok(match self.kind(id) {
            Some("AWS::DynamoDB::Table") => format!("arn:aws:dynamodb:{region}:{account}:table/{name}"),
            Some("AWS::S3::Bucket") => format!("arn:aws:s3:::{name}"),
            Some("AWS::SQS::Queue") => format!("arn:aws:sqs:{region}:{account}:{name}"),
            Some("AWS::Events::EventBus") => format!("arn:aws:events:{region}:{account}:event-bus/{name}"),
            // Other kinds only need a unique, well-formed ARN locally: name their last segment.
            Some(kind) => {
                format!("arn:aws:local:{region}:{account}:{}/{name}", kind.rsplit(':').next().unwrap_or(kind))
            }
            None => return Err(format!("no resource {id}").into()),
        })
    }

    fn reference(&self, name: &str) -> Result<String, Error> {
        Ok(match name {
            "AWS::StackName" => self.site.stack.clone(),
            "AWS::AccountId" => self.site.account.clone(),
            "AWS::Region" => self.site.region.clone(),
            "AWS::Partition" => "aws".into(),
            "AWS::URLSuffix" => "amazonaws.com".into(),
            _ if self.params.contains_key(name) => self.params[name].clone(),
            _ => match self.kind(name) {
                Some("AWS::SQS::Queue") => self.queue_url(name)?,
                Some("AWS::KMS::Key") => self.key_alias(name)?,
                // A secret's `!Ref` is its ARN, known once it exists; before, its name
                // (Secrets Manager takes either), as in the tests' copy of the template.
                Some("AWS::SecretsManager::Secret") => match self.created.get(name) {
                    Some(arn) => arn.clone(),
                    None => self.physical_name(name)?,
                },
                Some(_) => self.physical_name(name)?,
                None => return Err(format!("!Ref {name}: no such parameter or resource").into()),
            },
        })
    }

    pub fn attribute(&self, spec: &str) -> Result<String, Error> {
        let (id, attr) = spec.split_once('.').ok_or_else(|| format!("!GetAtt {spec}: want Resource.Attribute"))?;
        match attr {
            "Arn" => self.arn(id),
            "QueueUrl" => self.queue_url(id),
            "QueueName" => self.physical_name(id),
            // Known once the table exists with its stream (provision::tables records it).
            "StreamArn" => self
                .created
                .get(&format!("{id}.StreamArn"))
                .cloned()
                .ok_or_else(|| format!("{id} has no stream yet").into()),
            _ => Err(format!("!GetAtt {spec}: attribute not known locally").into()),
        }
    }

    fn substitute(&self, text: &str, vars: &HashMap<String, String>) -> Result<String, Error> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').ok_or_else(|| format!("!Sub {text}: unclosed ${{"))? + start;
            let name = &rest[start + 2..end];
            let value = match vars.get(name) {
                Some(v) => v.clone(),
                None if name.contains('.') && !name.starts_with("AWS::") => self.attribute(name)?,
                None => self.reference(name)?,
            };
            out.push_str(&value);
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// Resolves intrinsics (`!Ref`, `!GetAtt`, `!Sub` and their long forms) into JSON.
    pub fn resolve(&self, v: &Value) -> Result<Json, Error> {
        if let Some((tag, inner)) = tagged(v) {
            return self.intrinsic(&tag, inner);
        }
        Ok(match v {
            Value::Null => Json::Null,
            Value::Bool(b) => json!(b),
            Value::Number(n) => serde_json::to_value(n)?,
            Value::String(s) => json!(s),
            Value::Sequence(items) => Json::Array(items.iter().map(|i| self.resolve(i)).collect::<Result<_, _>>()?),
            Value::Mapping(map) => {
                if map.len() == 1 {
                    let (k, inner) = map.iter().next().unwrap_or((&Value::Null, &Value::Null));
                    match str_of(k) {
                        Some("Ref") => return self.intrinsic("Ref", inner),
                        Some(long) if long.starts_with("Fn::") => return self.intrinsic(&long[4..], inner),
                        _ => {}
                    }
                }
                let mut out = serde_json::Map::new();
                for (k, inner) in map {
                    out.insert(scalar(k), self.resolve(inner)?);
                }
                Json::Object(out)
            }
            Value::Tagged(_) => Json::Null,
        })
    }

    fn intrinsic(&self, tag: &str, inner: &Value) -> Result<Json, Error> {
        Ok(match tag {
            "Ref" => json!(self.reference(str_of(inner).unwrap_or_default())?),
            "GetAtt" => {
                let spec = match inner {
                    Value::Sequence(parts) => parts.iter().filter_map(str_of).collect::<Vec<_>>().join("."),
                    other => str_of(other).unwrap_or_default().to_owned(),
                };
                json!(self.attribute(&spec)?)
            }
            "Sub" => match inner {
                Value::Sequence(parts) if parts.len() == 2 => {
                    let mut vars = HashMap::new();
                    for (k, v) in parts[1].as_mapping().into_iter().flatten() {
                        vars.insert(scalar(k), json_string(&self.resolve(v)?));
                    }
                    json!(self.substitute(str_of(&parts[0]).unwrap_or_default(), &vars)?)
                }
                other => json!(self.substitute(str_of(other).unwrap_or_default(), &HashMap::new())?),
            },
            other => return Err(format!("intrinsic !{other} is not supported by the local gateway").into()),
        })
    }

    /// Every function's environment: the globals overlaid by its own variables.
    pub fn function_environment(&self, id: &str) -> Result<BTreeMap<String, String>, Error> {
        let mut env = BTreeMap::new();
        let global = self.root.get("Globals").and_then(|g| g.get("Function"));
        let own = self.resource(id).and_then(|r| r.get("Properties"));
        for source in [global, own].into_iter().flatten() {
            if let Some(vars) = source.get("Environment").and_then(|e| e.get("Variables")).and_then(Value::as_mapping) {
                for (k, v) in vars {
                    env.insert(scalar(k), json_string(&self.resolve(v)?));
                }
            }
        }
        Ok(env)
    }

    /// A function's IAM policy: the statements of its `Policies`, resolved, as one
    /// document. SAM's named policy templates are not used here, and are refused, so no
    /// permission hides in a name.
    pub fn function_policy(&self, id: &str) -> Result<Json, Error> {
        let mut statements = Vec::new();
        let policies = self.resource(id).and_then(|r| r.get("Properties")).and_then(|p| p.get("Policies"));
        for policy in policies.and_then(Value::as_sequence).into_iter().flatten() {
            match self.resolve(policy)?.get("Statement") {
                Some(Json::Array(items)) => statements.extend(items.iter().cloned()),
                _ => return Err(format!("{id}: a policy other than a Statement list: {policy:?}").into()),
            }
        }
        Ok(json!({ "Version": "2012-10-17", "Statement": statements }))
    }

    /// The local IAM user that stands for a function's execution role.
    pub fn principal(&self, id: &str) -> String {
        format!("{}-{id}", self.site.stack)
    }

    fn events(&self, id: &str, kind: &str) -> Vec<&Value> {
        self.resource(id)
            .and_then(|r| r.get("Properties"))
            .and_then(|p| p.get("Events"))
            .and_then(Value::as_mapping)
            .into_iter()
            .flatten()
            .filter(|(_, e)| e.get("Type").and_then(Value::as_str) == Some(kind))
            .filter_map(|(_, e)| e.get("Properties"))
            .collect()
    }

    pub fn function_ids(&self) -> Vec<String> {
        self.resources("AWS::Serverless::Function").into_iter().map(|(id, _)| id).collect()
    }

    pub fn routes(&self) -> Vec<Route> {
        let mut routes = Vec::new();
        for id in self.function_ids() {
            for event in self.events(&id, "HttpApi") {
                let unauthenticated =
                    event.get("Auth").and_then(|a| a.get("Authorizer")).and_then(Value::as_str) == Some("NONE");
                routes.push(Route {
                    function: id.clone(),
                    method: event.get("Method").and_then(Value::as_str).unwrap_or("ANY").to_uppercase(),
                    path: event.get("Path").and_then(Value::as_str).unwrap_or("/").to_owned(),
                    authorized: !unauthenticated,
                });
            }
        }
        routes
    }

    pub fn queue_sources(&self) -> Result<Vec<QueueSource>, Error> {
        let mut sources = Vec::new();
        for id in self.function_ids() {
            for event in self.events(&id, "SQS") {
                let arn = json_string(&self.resolve(event.get("Queue").unwrap_or(&Value::Null))?);
                let queue = self
                    .resources("AWS::SQS::Queue")
                    .into_iter()
                    .map(|(q, _)| q)
                    .find(|q| self.arn(q).ok().as_deref() == Some(arn.as_str()))
                    .ok_or_else(|| format!("{id}: SQS event source {arn} is not a queue of this template"))?;
                let batch_size = event.get("BatchSize").and_then(Value::as_i64).unwrap_or(10) as i32;
                sources.push(QueueSource { function: id.clone(), queue, batch_size });
            }
        }
        Ok(sources)
    }

    pub fn stream_sources(&self) -> Result<Vec<StreamSource>, Error> {
        let mut sources = Vec::new();
        for id in self.function_ids() {
            for event in self.events(&id, "DynamoDB") {
                let stream = event.get("Stream").and_then(|s| tagged(s)).filter(|(tag, _)| tag == "GetAtt");
                let table = stream
                    .and_then(|(_, inner)| inner.as_str().and_then(|spec| spec.strip_suffix(".StreamArn")))
                    .ok_or_else(|| format!("{id}: a DynamoDB event source must be !GetAtt <Table>.StreamArn"))?;
                let mut filters = Vec::new();
                for filter in event
                    .get("FilterCriteria")
                    .and_then(|f| f.get("Filters"))
                    .and_then(Value::as_sequence)
                    .into_iter()
                    .flatten()
                {
                    let pattern = filter.get("Pattern").and_then(Value::as_str).unwrap_or("{}");
                    filters.push(serde_json::from_str(pattern).map_err(|e| format!("{id}: filter pattern: {e}"))?);
                }
                sources.push(StreamSource {
                    function: id.clone(),
                    table: table.to_owned(),
                    batch_size: event.get("BatchSize").and_then(Value::as_i64).unwrap_or(100) as i32,
                    starting_position: event
                        .get("StartingPosition")
                        .and_then(Value::as_str)
                        .unwrap_or("LATEST")
                        .to_owned(),
                    filters,
                });
            }
        }
        Ok(sources)
    }

    pub fn schedules(&self) -> Vec<ScheduleSource> {
        let mut schedules = Vec::new();
        for id in self.function_ids() {
            let events = self
                .resource(&id)
                .and_then(|r| r.get("Properties"))
                .and_then(|p| p.get("Events"))
                .and_then(Value::as_mapping);
            for (name, event) in events.into_iter().flatten() {
                if event.get("Type").and_then(Value::as_str) != Some("Schedule") {
                    continue;
                }
                let expression =
                    event.get("Properties").and_then(|p| p.get("Schedule")).and_then(Value::as_str).unwrap_or_default();
                schedules.push(ScheduleSource {
                    function: id.clone(),
                    event: scalar(name),
                    expression: expression.to_owned(),
                });
            }
        }
        schedules
    }

    /// The HttpApi's default JWT authorizer.
    /// The HttpApi's `CorsConfiguration`, resolved (an empty one answers no preflight).
    pub fn cors(&self) -> Result<crate::cors::Cors, Error> {
        let (_, api) =
            self.resources("AWS::Serverless::HttpApi").into_iter().next().ok_or("no AWS::Serverless::HttpApi")?;
        let configuration = match api.get("Properties").and_then(|p| p.get("CorsConfiguration")) {
            Some(c) => self.resolve(c)?,
            None => Json::Null,
        };
        Ok(crate::cors::Cors::from_configuration(&configuration))
    }

    pub fn jwt_authorizer(&self) -> Result<JwtAuthorizer, Error> {
        let (_, api) =
            self.resources("AWS::Serverless::HttpApi").into_iter().next().ok_or("no AWS::Serverless::HttpApi")?;
        let auth = api.get("Properties").and_then(|p| p.get("Auth")).ok_or("HttpApi has no Auth")?;
        let default =
            auth.get("DefaultAuthorizer").and_then(Value::as_str).ok_or("HttpApi has no DefaultAuthorizer")?;
        let config = auth
            .get("Authorizers")
            .and_then(|a| a.get(default))
            .and_then(|a| a.get("JwtConfiguration"))
            .ok_or("the default authorizer has no JwtConfiguration")?;
        let issuer = json_string(&self.resolve(config.get("issuer").unwrap_or(&Value::Null))?);
        let audience = match self.resolve(config.get("audience").unwrap_or(&Value::Null))? {
            Json::Array(items) => items.iter().map(json_string).collect(),
            other => vec![json_string(&other)],
        };
        Ok(JwtAuthorizer { issuer, audience })
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

fn json_string(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `infra/template.yaml` itself, under stack `s`.
    fn real_template() -> Template {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
        let site = Site { stack: "s".into(), account: "1".into(), region: "r".into(), endpoint: "http://e".into() };
        Template::load(path, site, &[]).unwrap()
    }
    use std::time::Duration;

    const FIXTURE: &str = r#"
Parameters:
  Issuer: { Type: String, Default: https://default }
Globals:
  Function:
    Environment:
      Variables:
        TABLE_NAME: !Ref Table
        QUEUE: !GetAtt Jobs.Arn
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: Jwt
        Authorizers:
          Jwt:
            JwtConfiguration: { issuer: !Ref Issuer, audience: [aud-1] }
  Table: { Type: AWS::DynamoDB::Table, Properties: { TableName: !Sub "${AWS::StackName}-main" } }
  Jobs: { Type: AWS::SQS::Queue }
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      Environment: { Variables: { ONLY_ME: !Sub ["${X}-${AWS::Region}", { X: !Ref Jobs }] } }
      Policies:
        - Statement:
            - { Effect: Allow, Action: [dynamodb:GetItem], Resource: [!GetAtt Table.Arn, !Sub "${Table.Arn}/index/*"] }
        - Statement:
            - { Effect: Allow, Action: sqs:SendMessage, Resource: !GetAtt Jobs.Arn }
      Events:
        Open: { Type: HttpApi, Properties: { ApiId: !Ref Api, Path: /hook, Method: post, Auth: { Authorizer: NONE } } }
        Read: { Type: HttpApi, Properties: { ApiId: !Ref Api, Path: "/things/{id}", Method: GET } }
        Work: { Type: SQS, Properties: { Queue: !GetAtt Jobs.Arn, BatchSize: 5 } }
        Sweep: { Type: Schedule, Properties: { Schedule: rate(5 minutes) } }
"#;

    fn fixture() -> Template {
        let site = Site { stack: "s".into(), account: "1".into(), region: "r".into(), endpoint: "http://e".into() };
        Template::parse(FIXTURE, site, &[]).unwrap()
    }

    #[test]
    fn intrinsics_resolve_to_local_names() {
        let t = fixture();
        let env = t.function_environment("Worker").unwrap();
        assert_eq!(env["TABLE_NAME"], "s-main");
        assert_eq!(env["QUEUE"], "arn:aws:sqs:r:1:s-jobs");
        assert_eq!(env["ONLY_ME"], "http://e/1/s-jobs-r");
        assert_eq!(t.jwt_authorizer().unwrap().issuer, "https://default");
    }

    #[test]
    fn a_functions_policies_resolve_into_one_document_for_its_own_principal() {
        let t = fixture();
        let policy = t.function_policy("Worker").unwrap();
        let statements = policy["Statement"].as_array().unwrap();
        assert_eq!(statements.len(), 2);
        assert_eq!(statements[0]["Resource"][1], "arn:aws:dynamodb:r:1:table/s-main/index/*");
        assert_eq!(statements[1]["Resource"], "arn:aws:sqs:r:1:s-jobs");
        assert_eq!(t.principal("Worker"), "s-Worker");
        let named = FIXTURE.replace(
            "- Statement:\n            - { Effect: Allow, Action: sqs",
            "- SQSSendMessagePolicy:\n            - { Effect: Allow, Action: sqs",
        );
        let site = Site { stack: "s".into(), account: "1".into(), region: "r".into(), endpoint: "http://e".into() };
        let err = Template::parse(&named, site, &[]).unwrap().function_policy("Worker").unwrap_err();
        assert!(err.to_string().contains("other than a Statement list"), "{err}");
    }

    #[test]
    fn events_are_read_per_kind() {
        let t = fixture();
        let routes = t.routes();
        assert_eq!(routes.len(), 2);
        assert!(routes.iter().any(|r| r.method == "POST" && r.path == "/hook" && !r.authorized));
        assert!(routes.iter().any(|r| r.path == "/things/{id}" && r.authorized));
        let queues = t.queue_sources().unwrap();
        assert_eq!((queues[0].queue.as_str(), queues[0].batch_size), ("Jobs", 5));
        assert_eq!(
            t.schedules(),
            vec![ScheduleSource {
                function: "Worker".into(),
                event: "Sweep".into(),
                expression: "rate(5 minutes)".into()
            }]
        );
    }

    /// Every bucket of the real template: no lifecycle rule may delete an object or a
    /// version (they are evidence); a rule may only abort unfinished multipart uploads
    /// or move storage classes.
    #[test]
    fn no_lifecycle_rule_of_the_template_deletes_an_object_or_a_version() {
        let template = real_template();
        let buckets = template.resources("AWS::S3::Bucket");
        assert!(!buckets.is_empty());
        const HARMLESS: &[&str] = &[
            "Id",
            "Status",
            "Prefix",
            "Filter",
            "AbortIncompleteMultipartUpload",
            "Transitions",
            "NoncurrentVersionTransitions",
        ];
        for (id, bucket) in buckets {
            let rules =
                bucket.get("Properties").and_then(|p| p.get("LifecycleConfiguration")).and_then(|l| l.get("Rules"));
            for rule in rules.and_then(Value::as_sequence).into_iter().flatten() {
                for (key, _) in rule.as_mapping().into_iter().flatten() {
                    let key = key.as_str().unwrap_or_default();
                    assert!(HARMLESS.contains(&key), "{id}: a lifecycle rule with {key} would delete evidence");
                }
            }
        }
    }

    /// Each secret reaches only the functions that use it: the signing secret only the
    /// webhook, which faces the internet and holds no API key.
    #[test]
    fn secrets_reach_only_the_functions_that_use_them() {
        let template = real_template();
        let holders = |name: &str| -> Vec<String> {
            let ids = template.function_ids().into_iter();
            ids.filter(|id| template.function_environment(id).unwrap().contains_key(name)).collect()
        };
        // No function holds a secret's value, only the ARN of each secret it uses...
        for secret in ["STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "ZARINPAL_ACCESS_TOKEN"] {
            assert!(holders(secret).is_empty(), "{secret} is in a function's environment");
        }
        assert_eq!(holders("STRIPE_WEBHOOK_SECRET_ARN"), ["PaymentsWebhookFunction"]);
        let key = holders("STRIPE_SECRET_KEY_ARN");
        assert_eq!(
            key,
            ["OfferDecisionsFunction", "OrderWorkFunction", "FollowUpsFunction", "SweeperFunction"],
            "the functions that call Stripe (order-work opens a paid amendment's and a tip's payment)"
        );
        assert_eq!(holders("ZARINPAL_ACCESS_TOKEN_ARN"), ["FollowUpsFunction", "SweeperFunction"]);
        // ...and may read exactly those secrets.
        for id in template.function_ids() {
            let policy = template.function_policy(&id).unwrap().to_string();
            let env = template.function_environment(&id).unwrap();
            for (secret, resource) in [
                ("STRIPE_SECRET_KEY_ARN", "s-stripesecretkeysecret"),
                ("STRIPE_WEBHOOK_SECRET_ARN", "s-stripewebhooksecretsecret"),
                ("ZARINPAL_ACCESS_TOKEN_ARN", "s-zarinpalaccesstokensecret"),
            ] {
                let granted = policy.contains(&format!("\"{resource}\""));
                assert_eq!(granted, env.contains_key(secret), "{id}: {secret} given and {resource} granted together");
            }
        }
    }

    /// An alarm fed by a metric filter on the functions' logs pages nobody if the line it
    /// matches is never logged: each filter's message is one the core crate logs.
    #[test]
    fn every_log_metric_matches_a_line_the_functions_log() {
        let template = real_template();
        fn sources(dir: &std::path::Path, all: &mut String) {
            for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
                let path = entry.path();
                if path.is_dir() {
                    sources(&path, all);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    all.push_str(&std::fs::read_to_string(path).unwrap());
                }
            }
        }
        let mut code = String::new();
        sources(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/src"), &mut code);
        let filters = template.resources("AWS::Logs::MetricFilter");
        assert!(!filters.is_empty(), "the parked timers' filter at least");
        for (id, _) in filters {
            let pattern = template.property(&id, "FilterPattern").unwrap().unwrap();
            let message = pattern.as_str().unwrap().split('"').nth(1).expect("a quoted message");
            assert!(code.contains(&format!("\"{message}\"")), "{id}: nothing logs {message:?}");
        }
    }

    /// The relay reads the table's stream with the pattern the local poller applies, and
    /// retries a record until it goes (a follow-up is never dropped).
    #[test]
    fn the_relay_reads_the_tables_stream_and_never_gives_up_a_record() {
        let template = real_template();
        let sources = template.stream_sources().unwrap();
        assert_eq!(sources.len(), 1, "{sources:?}");
        let relay = &sources[0];
        assert_eq!((relay.function.as_str(), relay.table.as_str()), ("RelayFunction", "Table"));
        assert_eq!(relay.filters.len(), 1);
        relay.filters.iter().for_each(|f| crate::stream::check_pattern(f).unwrap());
        let event = template.events("RelayFunction", "DynamoDB")[0];
        assert_eq!(event.get("MaximumRetryAttempts").and_then(Value::as_i64), Some(-1));
        let view = template.property("Table", "StreamSpecification").unwrap().unwrap();
        assert_eq!(view["StreamViewType"], "NEW_IMAGE", "the relay reads the new image");
    }

    #[test]
    fn rates() {
        assert_eq!(rate_period("rate(5 minutes)"), Some(Duration::from_secs(300)));
        assert_eq!(rate_period("rate(1 hour)"), Some(Duration::from_secs(3600)));
        assert_eq!(rate_period("rate(2 days)"), Some(Duration::from_secs(172_800)));
        assert_eq!(rate_period("cron(0 12 * * ? *)"), None);
    }
}
