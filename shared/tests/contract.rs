//! `template.yaml`, `openapi.yaml` and the code agree: every route the template wires is
//! documented and served by the function it is wired to, and the OpenAPI oracle that checks every
//! API test's responses really rejects a wrong shape.

mod support;

use serde_json::json;
use serde_yaml_ng::Value as Yaml;
use shared::api::{RouteKind, function_routes};
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
