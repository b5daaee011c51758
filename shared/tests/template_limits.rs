//! `template.yaml` wires the limits against floods as the code reads them: each limit setting
//! in the environment of the function that takes its tokens, from a parameter whose default is
//! the code's; the webhook secret's overlap likewise; giosg-webhooks' reserved concurrency on a
//! condition, left unset (`AWS::NoValue`) at 0.

use std::collections::HashMap;
use std::time::Duration;

use serde_yaml_ng::Value as Yaml;
use shared::config::{LIMIT_SETTINGS, Settings, lookup_in};
use shared::domain::rate::LimitKind;

fn template() -> Yaml {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
    serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `!<tag> <value>`'s value, when `value` has that tag.
fn tagged<'a>(value: &'a Yaml, tag: &str) -> Option<&'a Yaml> {
    match value {
        Yaml::Tagged(tagged) if tagged.tag == tag => Some(&tagged.value),
        _ => None,
    }
}

/// The parameter a function's environment variable is `!Ref`'d from, and that parameter.
fn parameter_of<'a>(template: &'a Yaml, function: &str, variable: &str) -> (String, &'a Yaml) {
    let value =
        &template["Resources"][function]["Properties"]["Environment"]["Variables"][variable];
    let name = tagged(value, "Ref")
        .and_then(Yaml::as_str)
        .unwrap_or_else(|| panic!("{function} sets {variable} from a parameter: {value:?}"));
    (name.to_owned(), &template["Parameters"][name])
}

fn number(value: &Yaml) -> u64 {
    value
        .as_u64()
        .unwrap_or_else(|| panic!("a number: {value:?}"))
}

#[test]
fn every_limit_setting_comes_from_a_parameter_with_the_codes_default() {
    let template = template();
    for setting in LIMIT_SETTINGS {
        let function = match setting.kind {
            LimitKind::Send => "SendMessageFunction",
            LimitKind::Start | LimitKind::AnonymousStart | LimitKind::AnonymousStartTotal => {
                "StartChatFunction"
            }
        };
        let (name, rate) = parameter_of(&template, function, setting.rate_name);
        assert_eq!(
            number(&rate["Default"]),
            u64::from(setting.default_rate),
            "{name}"
        );
        assert_eq!(
            number(&rate["MinValue"]),
            0,
            "{name}: 0 turns the limit off"
        );
        let (name, burst) = parameter_of(&template, function, setting.burst_name);
        assert_eq!(
            number(&burst["Default"]),
            u64::from(setting.default_burst),
            "{name}"
        );
        assert_eq!(number(&burst["MinValue"]), 1, "{name}");
    }
}

#[test]
fn the_webhook_secret_overlap_comes_from_a_parameter_with_the_codes_default() {
    let template = template();
    let (name, parameter) = parameter_of(
        &template,
        "GiosgWebhooksFunction",
        "WEBHOOK_SECRET_OVERLAP_SECONDS",
    );
    let env: HashMap<String, String> = [
        ("TABLE_NAME", "t"),
        ("GIOSG_BASE_URL", "https://service.giosg.com"),
        ("GIOSG_ORG_ID", "o"),
        ("GIOSG_ROOM_ID", "r"),
        ("SECRET_ID", "s"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let settings = Settings::from_lookup(lookup_in(&env)).unwrap();
    assert_eq!(
        Duration::from_secs(number(&parameter["Default"])),
        settings.webhook_secret_overlap,
        "{name}"
    );
}

#[test]
fn the_webhook_function_reserves_its_concurrency_unless_told_not_to() {
    let template = template();
    let reserved = &template["Resources"]["GiosgWebhooksFunction"]["Properties"]["ReservedConcurrentExecutions"];
    let choice = tagged(reserved, "If")
        .and_then(Yaml::as_sequence)
        .expect("ReservedConcurrentExecutions: !If [condition, value, AWS::NoValue]");
    let [condition, value, otherwise] = choice.as_slice() else {
        panic!("{choice:?}");
    };
    assert_eq!(
        tagged(value, "Ref").and_then(Yaml::as_str),
        Some("WebhookReservedConcurrency")
    );
    assert_eq!(
        tagged(otherwise, "Ref").and_then(Yaml::as_str),
        Some("AWS::NoValue")
    );
    let condition = &template["Conditions"][condition.as_str().unwrap()];
    let described = serde_yaml_ng::to_string(condition).unwrap();
    assert!(
        described.contains("Not") && described.contains("WebhookReservedConcurrency"),
        "reserved unless 0: {described}"
    );
    let parameter = &template["Parameters"]["WebhookReservedConcurrency"];
    assert_eq!(number(&parameter["Default"]), 20);
    assert_eq!(number(&parameter["MinValue"]), 0);
}
