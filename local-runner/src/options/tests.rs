//! The flags and their validation: defaults, what each secret and choice needs, and the
//! refusals.

use clap::Parser;
use giosg_sim::Profile;
use shared::config::{MIN_IDENTITY_SECRET_LEN, MIN_WEBHOOK_SECRET_LEN};

use super::*;

fn args(flags: &[&str]) -> Args {
    let mut argv = vec!["local-runner"];
    argv.extend_from_slice(flags);
    Args::try_parse_from(argv).unwrap()
}

fn no_env(_: &str) -> Option<String> {
    None
}

#[test]
fn signed_identity_is_off_without_identity_secret_and_refuses_a_short_one() {
    assert!(args(&[]).resolve(no_env).unwrap().identity_secret.is_none());
    let secret = "s".repeat(MIN_IDENTITY_SECRET_LEN);
    let given = args(&[])
        .resolve(|name| (name == "IDENTITY_SECRET").then(|| secret.clone()))
        .unwrap();
    assert_eq!(given.identity_secret.unwrap().expose(), secret);
    let short = args(&[]).resolve(|name| {
        (name == "IDENTITY_SECRET").then(|| "s".repeat(MIN_IDENTITY_SECRET_LEN - 1))
    });
    assert!(matches!(short, Err(OptionsError::ShortIdentitySecret)));
}

#[test]
fn the_operator_api_is_off_without_an_admin_token_and_refuses_a_short_one() {
    assert!(args(&[]).resolve(no_env).unwrap().admin_token.is_none());
    let token = "a".repeat(MIN_ADMIN_TOKEN_LEN);
    let given = args(&[])
        .resolve(|name| (name == "ADMIN_TOKEN").then(|| token.clone()))
        .unwrap();
    assert_eq!(given.admin_token.unwrap().expose(), token);
    let short = args(&[]).resolve(|name| (name == "ADMIN_TOKEN").then(|| "short".into()));
    assert!(matches!(short, Err(OptionsError::ShortAdminToken)));
}

#[test]
fn defaults_are_the_simulator_and_the_memory_store() {
    let options = args(&[]).resolve(no_env).unwrap();
    assert_eq!(options.port, 3000);
    assert_eq!(options.store, StoreChoice::Memory { data_file: None });
    let GiosgChoice::Simulator {
        port,
        webhook_secret,
        profile,
    } = options.giosg
    else {
        panic!("the simulator is the default");
    };
    assert_eq!(port, 3001);
    assert_eq!(profile, Profile::Default);
    assert!(webhook_secret.expose().len() >= MIN_WEBHOOK_SECRET_LEN);
}

#[test]
fn the_reconciler_runs_every_ten_seconds_unless_told_otherwise() {
    let every = |flags: &[&str]| args(flags).resolve(no_env).unwrap().reconcile_every;
    assert_eq!(every(&[]), Some(std::time::Duration::from_secs(10)));
    assert_eq!(
        every(&["--reconcile-every", "3"]),
        Some(std::time::Duration::from_secs(3))
    );
    assert_eq!(every(&["--reconcile-every", "0"]), None);
}

#[test]
fn the_simulator_profile_is_chosen_by_name() {
    let options = args(&["--sim-profile", "contrary"])
        .resolve(no_env)
        .unwrap();
    assert!(matches!(
        options.giosg,
        GiosgChoice::Simulator {
            profile: Profile::Contrary,
            ..
        }
    ));
    let unknown = Args::try_parse_from(["local-runner", "--sim-profile", "strict"]).unwrap_err();
    assert!(unknown.to_string().contains("contrary"), "{unknown}");
    let with_real = args(&[
        "--sim-profile",
        "contrary",
        "--giosg-url",
        "https://service.giosg.com",
    ])
    .resolve(no_env)
    .unwrap_err();
    assert!(matches!(with_real, OptionsError::ProfileWithRealGiosg));
}

#[test]
fn each_run_gets_its_own_webhook_secret() {
    let secret = |options: Options| match options.giosg {
        GiosgChoice::Simulator { webhook_secret, .. } => webhook_secret.expose().to_owned(),
        GiosgChoice::Real { .. } => unreachable!(),
    };
    let a = secret(args(&[]).resolve(no_env).unwrap());
    let b = secret(args(&[]).resolve(no_env).unwrap());
    assert_ne!(a, b);
}

#[test]
fn real_giosg_needs_ids_and_secrets_named_in_the_error() {
    let error = args(&["--giosg-url", "https://service.giosg.com"])
        .resolve(no_env)
        .unwrap_err();
    assert!(error.to_string().contains("--giosg-org-id"), "{error}");
    let flags = [
        "--giosg-url",
        "https://service.giosg.com",
        "--giosg-org-id",
        "org",
        "--giosg-room-id",
        "room",
    ];
    let error = args(&flags).resolve(no_env).unwrap_err();
    assert!(error.to_string().contains("GIOSG_API_TOKEN"), "{error}");
    let env = |name: &str| match name {
        "GIOSG_API_TOKEN" => Some("token-value".to_owned()),
        "WEBHOOK_SECRET" => Some("short".to_owned()),
        _ => None,
    };
    let error = args(&flags).resolve(env).unwrap_err();
    assert!(error.to_string().contains("WEBHOOK_SECRET"), "{error}");
    assert!(!error.to_string().contains("short"));
}

#[test]
fn dynamodb_endpoints_are_urls_or_aws() {
    let options = args(&["--dynamodb-endpoint", "aws"])
        .resolve(no_env)
        .unwrap();
    assert!(matches!(
        options.store,
        StoreChoice::DynamoDb {
            endpoint: DynamoEndpoint::Aws,
            ..
        }
    ));
    assert!(
        args(&["--dynamodb-endpoint", "localhost:8000"])
            .resolve(no_env)
            .is_err()
    );
    assert!(
        Args::try_parse_from([
            "local-runner",
            "--dynamodb-endpoint",
            "http://127.0.0.1:5000",
            "--data-file",
            "x.json"
        ])
        .is_err(),
        "a data file is for the in-memory store only"
    );
}
