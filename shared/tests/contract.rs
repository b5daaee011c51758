//! `template.yaml`, `openapi.yaml` and the code agree: every route the template wires is
//! documented and served by the function it is wired to, the OpenAPI oracle that checks every
//! API test's responses really rejects a wrong shape, and every alarm and dashboard widget
//! watches a metric the code emits (`shared::metrics::Metric::ALL`), by the dimensions it is
//! emitted with.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;
use serde_yaml_ng::Value as Yaml;
use shared::api::{RouteKind, function_routes};
use shared::domain::rate::LimitKind;
use shared::metrics::{FUNCTION, GiosgOutcome, Metric, WebhookResult};
use support::openapi::openapi;

fn template() -> Yaml {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
    serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `(function binary, "METHOD /path")` for every HttpApi event in the template.
fn template_routes() -> Vec<(String, String)> {
    let template = template();
    let mut routes = Vec::new();
    for (_, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .expect("every function names its cargo binary")
            .to_owned();
        let Some(events) = resource["Properties"]["Events"].as_mapping() else {
            continue;
        };
        for (_, event) in events {
            if event["Type"].as_str() == Some("HttpApi") {
                let method = event["Properties"]["Method"]
                    .as_str()
                    .unwrap()
                    .to_uppercase();
                let path = event["Properties"]["Path"].as_str().unwrap();
                routes.push((binary.clone(), format!("{method} {path}")));
            }
        }
    }
    routes
}

#[test]
fn every_template_route_is_documented_and_served_by_its_function() {
    let routes = template_routes();
    assert_eq!(
        routes.len(),
        9,
        "the six /v1 routes and the three operator routes: {routes:?}"
    );
    for (binary, route) in &routes {
        let (method, path) = route.split_once(' ').unwrap();
        assert!(
            !openapi().doc()["paths"][path][method.to_lowercase()].is_null(),
            "{route} is not in openapi.yaml"
        );
        let served = function_routes::by_name(binary)
            .unwrap_or_else(|| panic!("{binary} is not a function of this workspace"));
        assert!(
            served.iter().any(|kind| kind.template() == route),
            "{binary} is wired to {route} but does not serve it"
        );
    }
}

#[test]
fn every_route_of_the_code_is_documented_and_deployed() {
    let deployed: Vec<String> = template_routes().into_iter().map(|(_, r)| r).collect();
    for kind in RouteKind::ALL {
        let route = kind.template();
        let (method, path) = route.split_once(' ').unwrap();
        assert!(
            !openapi().doc()["paths"][path][method.to_lowercase()].is_null(),
            "{route} is not in openapi.yaml"
        );
        let behind_function_url = path.starts_with("/webhooks/");
        assert!(
            behind_function_url || deployed.contains(&route.to_owned()),
            "{route} is not wired in template.yaml"
        );
    }
    let template = template();
    let url_config =
        &template["Resources"]["GiosgWebhooksFunction"]["Properties"]["FunctionUrlConfig"];
    assert_eq!(
        url_config["AuthType"].as_str(),
        Some("NONE"),
        "webhooks behind a Function URL"
    );
}

/// The operator routes (and only they) take an IAM signature: `Authorizer: AWS_IAM` on their
/// events, with the API's IAM authorizer enabled and no default authorizer over the `/v1` routes.
#[test]
fn only_the_operator_routes_are_iam_authorized() {
    let template = template();
    let auth = &template["Resources"]["ChatApi"]["Properties"]["Auth"];
    assert_eq!(auth["EnableIamAuthorizer"].as_bool(), Some(true));
    assert!(auth["DefaultAuthorizer"].is_null(), "no default authorizer");
    let mut operator_routes = 0;
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        let Some(events) = resource["Properties"]["Events"].as_mapping() else {
            continue;
        };
        for (_, event) in events {
            if event["Type"].as_str() != Some("HttpApi") {
                continue;
            }
            let route = format!(
                "{} {}",
                event["Properties"]["Method"]
                    .as_str()
                    .unwrap()
                    .to_uppercase(),
                event["Properties"]["Path"].as_str().unwrap()
            );
            let kind = RouteKind::ALL
                .iter()
                .find(|kind| kind.template() == route)
                .unwrap_or_else(|| panic!("{route} is no route of the code"));
            let authorizer = event["Properties"]["Auth"]["Authorizer"].as_str();
            assert_eq!(
                authorizer == Some("AWS_IAM"),
                kind.is_operator(),
                "{name:?}: {route} has authorizer {authorizer:?}"
            );
            operator_routes += usize::from(kind.is_operator());
        }
    }
    assert_eq!(operator_routes, function_routes::OPERATOR_API.len());
    // The operator API is documented as such, with both ways in.
    for kind in function_routes::OPERATOR_API {
        let (method, path) = kind.template().split_once(' ').unwrap();
        let operation = &openapi().doc()["paths"][path][method.to_lowercase()];
        assert_eq!(operation["x-lambda-function"], "operator-api", "{path}");
        assert_eq!(
            operation["security"],
            json!([{"awsIam": []}, {"adminToken": []}]),
            "{path}"
        );
    }
}

#[test]
fn the_openapi_oracle_rejects_wrong_shapes() {
    let oracle = openapi();
    let chat = json!({"id": "c1", "status": "open", "created_at": "2026-11-24T10:00:00.000Z",
                      "ended_at": null, "visitor_name": "Ada"});
    assert!(
        oracle
            .check_response("GET", "/v1/chats/c1", 200, &json!({"chat": chat}))
            .is_ok()
    );
    let mut missing_status = chat.clone();
    missing_status.as_object_mut().unwrap().remove("status");
    assert!(
        oracle
            .check_response("GET", "/v1/chats/c1", 200, &json!({"chat": missing_status}))
            .is_err()
    );
    let mut unknown_status = chat.clone();
    unknown_status["status"] = json!("closed");
    assert!(
        oracle
            .check_response("GET", "/v1/chats/c1", 200, &json!({"chat": unknown_status}))
            .is_err()
    );
    assert!(
        oracle
            .check_response(
                "GET",
                "/v1/chats/c1",
                200,
                &json!({"chat": chat, "extra": 1})
            )
            .is_err()
    );
    let error = json!({"error": {"code": "not_found", "message": "Not found."}});
    assert!(
        oracle
            .check_response("GET", "/v1/chats/c1", 404, &error)
            .is_ok()
    );
    assert!(
        oracle
            .check_response("GET", "/v1/chats/c1", 404, &json!({"detail": "nope"}))
            .is_err()
    );
    assert!(
        oracle
            .check_response("GET", "/v1/nowhere", 200, &json!({}))
            .is_err()
    );
}

/// Least privilege: a function may read the Secrets Manager secret only if its wiring reads it
/// (chat-history never calls Giosg and reads no secret; `functions/*/src/main.rs`).
#[test]
fn only_the_functions_that_read_the_secret_may_read_it() {
    let template = template();
    for (name, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap();
        let main = std::fs::read_to_string(format!(
            "{}/../functions/{binary}/src/main.rs",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let reads_secret = main.contains(".secrets()");
        let policies = serde_yaml_ng::to_string(&resource["Properties"]["Policies"]).unwrap();
        assert_eq!(
            policies.contains("secretsmanager:GetSecretValue"),
            reads_secret,
            "{name:?} ({binary}): reads the secret: {reads_secret}; policies: {policies}"
        );
    }
}

// --- the alarms and the dashboard watch metrics the code emits ----------------------------

/// The logical ids of the template's resources of `kind`.
fn resources_of(template: &Yaml, kind: &str) -> BTreeSet<String> {
    template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, resource)| resource["Type"].as_str() == Some(kind))
        .filter_map(|(name, _)| name.as_str().map(str::to_owned))
        .collect()
}

/// `!Ref <name>`'s name.
fn ref_name(value: &Yaml) -> Option<&str> {
    match value {
        Yaml::Tagged(tagged) if tagged.tag == "Ref" => tagged.value.as_str(),
        _ => None,
    }
}

/// One of our metrics as a widget or an alarm names it: checked against `Metric::ALL`, its
/// declared dimension sets, and the values the code gives them. `function` is the logical id
/// the `Function` dimension refers to, when the reference names one.
fn check_ours(
    what: &str,
    name: &str,
    dimensions: &BTreeMap<String, Option<String>>,
    functions: &BTreeSet<String>,
) -> Metric {
    let metric = Metric::named(name)
        .unwrap_or_else(|| panic!("{what}: {name} is not a metric the code emits"));
    let names: BTreeSet<&str> = dimensions.keys().map(String::as_str).collect();
    assert!(
        metric
            .dimension_sets()
            .iter()
            .any(|set| set.iter().copied().collect::<BTreeSet<_>>() == names),
        "{what}: {name} by {names:?}, but it is emitted by {:?}",
        metric.dimension_sets()
    );
    for (dimension, value) in dimensions {
        let value = value.as_deref();
        match dimension.as_str() {
            FUNCTION => assert!(
                value.is_some_and(|function| functions.contains(function)),
                "{what}: Function must name a function of the template, not {value:?}"
            ),
            "Result" => assert!(
                WebhookResult::ALL.iter().any(|r| Some(r.as_str()) == value),
                "{what}: no webhook result {value:?}"
            ),
            "Outcome" => assert!(
                GiosgOutcome::ALL.iter().any(|o| Some(o.as_str()) == value),
                "{what}: no Giosg outcome {value:?}"
            ),
            "Limit" => assert!(
                LimitKind::ALL.iter().any(|l| Some(l.as_str()) == value),
                "{what}: no limit {value:?}"
            ),
            other => panic!("{what}: an alarm or widget on one {other} value was not expected"),
        }
    }
    metric
}

#[test]
fn every_alarm_watches_a_metric_the_code_emits() {
    let template = template();
    let functions = resources_of(&template, "AWS::Serverless::Function");
    let alarms = resources_of(&template, "AWS::CloudWatch::Alarm");
    let mut watched: BTreeSet<String> = BTreeSet::new();
    for alarm in &alarms {
        let properties = &template["Resources"][alarm.as_str()]["Properties"];
        let mut stats: Vec<&Yaml> = Vec::new();
        if !properties["MetricName"].is_null() {
            stats.push(properties);
        }
        for query in properties["Metrics"].as_sequence().into_iter().flatten() {
            if !query["MetricStat"].is_null() {
                stats.push(&query["MetricStat"]["Metric"]);
            }
        }
        assert!(!stats.is_empty(), "{alarm} watches no metric");
        for stat in stats {
            let name = stat["MetricName"].as_str().unwrap();
            let dimensions: BTreeMap<String, Option<String>> = stat["Dimensions"]
                .as_sequence()
                .into_iter()
                .flatten()
                .map(|dimension| {
                    let value = &dimension["Value"];
                    let value = ref_name(value).or(value.as_str()).map(str::to_owned);
                    (dimension["Name"].as_str().unwrap().to_owned(), value)
                })
                .collect();
            if ref_name(&stat["Namespace"]) == Some("MetricsNamespace") {
                check_ours(alarm, name, &dimensions, &functions);
                watched.insert(name.to_owned());
            } else {
                assert_eq!(stat["Namespace"].as_str(), Some("AWS/Lambda"), "{alarm}");
                let function = dimensions.get("FunctionName").cloned().flatten();
                assert!(
                    function.is_some_and(|function| functions.contains(&function)),
                    "{alarm}: {name} of a function of this template"
                );
                watched.insert(format!("AWS/Lambda {name}"));
            }
        }
        let actions = serde_yaml_ng::to_string(&properties["AlarmActions"]).unwrap();
        assert!(
            actions.contains("HasAlarmTopic") && actions.contains("AlarmTopicArn"),
            "{alarm}: its actions are the optional topic's: {actions}"
        );
    }
    for needed in [
        "ServerErrors",
        "Webhooks",
        "GiosgCalls",
        "ReconcileRepairs",
        "ReconcileFailures",
        "NotificationsFailed",
        "RateLimited",
        "AWS/Lambda Throttles",
        "AWS/Lambda Errors",
    ] {
        assert!(
            watched.contains(needed),
            "no alarm on {needed}: {watched:?}"
        );
    }
    // A 5xx rate alarm for each function that answers requests.
    for function in [
        "StartChatFunction",
        "SendMessageFunction",
        "ChatHistoryFunction",
        "GiosgWebhooksFunction",
        "FeedSocketFunction",
    ] {
        let rate = format!(
            "{}ServerErrorRateAlarm",
            function.trim_end_matches("Function")
        );
        assert!(alarms.contains(&rate), "no {rate}");
        let body = serde_yaml_ng::to_string(&template["Resources"][rate.as_str()]).unwrap();
        assert!(body.contains(function), "{rate} watches {function}");
    }
}

#[test]
fn the_dashboard_shows_metrics_the_code_emits_and_every_alarm() {
    let template = template();
    let functions = resources_of(&template, "AWS::Serverless::Function");
    let alarms = resources_of(&template, "AWS::CloudWatch::Alarm");
    let dashboard = &template["Resources"]["OperationsDashboard"]["Properties"]["DashboardBody"];
    let Yaml::Tagged(sub) = dashboard else {
        panic!("the dashboard body is a !Sub");
    };
    // `${Name}` as `@Name`, so that the references can be checked after parsing.
    let reference = substitute_references(
        &sub.value
            .as_str()
            .unwrap()
            .replace("${MetricsNamespace}", "@ns"),
    );
    let body: serde_json::Value = serde_json::from_str(&reference).unwrap();
    let mut shown = BTreeSet::new();
    for widget in body["widgets"].as_array().unwrap() {
        for alarm in widget["properties"]["alarms"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let alarm = alarm.as_str().unwrap();
            let name = alarm.trim_start_matches('@').trim_end_matches(".Arn");
            assert!(
                alarms.contains(name),
                "the dashboard shows {alarm}, no alarm of ours"
            );
            shown.insert(name.to_owned());
        }
        for row in widget["properties"]["metrics"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let row = row.as_array().unwrap();
            let what = format!("dashboard {}", widget["properties"]["title"]);
            if let Some(expression) = row[0]["expression"].as_str() {
                // SEARCH('{"@ns",Function,Outcome} MetricName="GiosgCalls"', ...)
                let Some(ours) = expression.split_once("{\"@ns\",") else {
                    assert!(
                        expression.contains("{AWS/Lambda,FunctionName}"),
                        "{expression}"
                    );
                    continue;
                };
                let (keys, rest) = ours.1.split_once('}').unwrap();
                let name = rest
                    .split_once("MetricName=\"")
                    .and_then(|(_, name)| name.split_once('"'))
                    .map(|(name, _)| name)
                    .unwrap();
                let metric = Metric::named(name)
                    .unwrap_or_else(|| panic!("{what}: {name} is not a metric the code emits"));
                let keys: Vec<&str> = keys.split(',').collect();
                assert!(
                    metric.dimension_sets().contains(&keys),
                    "{what}: {name} by {keys:?}"
                );
                continue;
            }
            assert_eq!(row[0], "@ns", "{what}: only our namespace by name: {row:?}");
            let name = row[1].as_str().unwrap();
            let dimensions: BTreeMap<String, Option<String>> = row[2..]
                .chunks(2)
                .filter(|pair| pair.len() == 2 && pair[0].is_string())
                .map(|pair| {
                    let value = pair[1].as_str().unwrap();
                    let value = value.strip_prefix('@').unwrap_or(value);
                    (pair[0].as_str().unwrap().to_owned(), Some(value.to_owned()))
                })
                .collect();
            check_ours(&what, name, &dimensions, &functions);
        }
    }
    assert_eq!(
        shown, alarms,
        "the dashboard's alarm widget shows every alarm"
    );
}

/// Replaces each `${Name}` of a `!Sub` with `@Name`.
fn substitute_references(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("a closed ${...}") + start;
        out.push('@');
        out.push_str(&rest[start + 2..end]);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The README's "Operating it" section: a row for every metric with its unit and dimensions,
/// and what to do for every alarm of the template.
#[test]
fn the_readme_describes_every_metric_and_alarm() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let section = |title: &str| {
        let start = readme
            .find(title)
            .unwrap_or_else(|| panic!("README has no {title}"));
        let rest = &readme[start + title.len()..];
        rest[..rest.find("\n### ").unwrap_or(rest.len())].to_owned()
    };
    let metrics = section("### Metrics\n");
    for metric in Metric::ALL {
        let row_start = format!("| `{}` | {} | ", metric.name(), metric.unit().as_str());
        let row = metrics
            .lines()
            .find(|line| line.starts_with(&row_start))
            .unwrap_or_else(|| panic!("README's metrics table has no row {row_start}..."));
        let described = row[row_start.len()..].split(" | ").next().unwrap();
        let declared: Vec<String> = metric
            .dimensions()
            .iter()
            .map(|dimension| format!("`{}`", dimension.name()))
            .collect();
        let expected = if declared.is_empty() {
            "(none)".to_owned()
        } else {
            declared.join("; ")
        };
        assert_eq!(
            described,
            expected,
            "{}'s dimensions in README",
            metric.name()
        );
    }
    let alarms = section("### Alarms\n");
    for alarm in resources_of(&template(), "AWS::CloudWatch::Alarm") {
        assert!(
            alarms.contains(&format!("`{alarm}`")),
            "README does not say what to do when {alarm} fires"
        );
    }
}
