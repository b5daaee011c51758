//! The HTTP transport to Giosg: one call's attempts, timeouts and retries within the budget,
//! the credential headers, and reading answers. Which endpoint repeats under which rule is
//! tabled on [`GiosgClient`](super::GiosgClient); this module carries the rules out.

use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use rand::Rng;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use serde::de::DeserializeOwned;

use crate::domain::tolerant;
use tracing::{debug, warn};
use url::Url;

use super::config::GiosgConfig;
use super::error::{GiosgError, message_from_body, scrub};
use crate::secret::Secret;

/// Whether an endpoint may be sent again when the first attempt may have reached Giosg.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Repeat {
    /// Repeating has no further effect: retry on 429, any 5xx, timeouts and network errors.
    Safe,
    /// Repeating could act twice: retry only when Giosg certainly did not act
    /// (429, 503, or no connection was made).
    OnlyIfNotReceived,
}

#[derive(Clone, Copy, Debug)]
pub(super) enum Verb {
    Get,
    Post,
    Patch,
}

impl Verb {
    fn method(self) -> reqwest::Method {
        match self {
            Self::Get => reqwest::Method::GET,
            Self::Post => reqwest::Method::POST,
            Self::Patch => reqwest::Method::PATCH,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Patch => "PATCH",
        }
    }
}

/// A Giosg endpoint: its name in logs and errors, its method, and its retry class.
#[derive(Clone, Copy, Debug)]
pub(super) struct Endpoint {
    pub(super) name: &'static str,
    verb: Verb,
    repeat: Repeat,
}

pub(super) const fn endpoint(name: &'static str, verb: Verb, repeat: Repeat) -> Endpoint {
    Endpoint { name, verb, repeat }
}

/// Which credential a call carries.
pub(super) enum Auth<'a> {
    None,
    ApiToken,
    Visitor(&'a Secret),
}

/// The pooled HTTP client and the configuration its calls follow (timeouts, retry budget,
/// attempts, backoff, and the API token for [`Auth::ApiToken`]).
pub(super) struct Transport {
    http: reqwest::Client,
    config: GiosgConfig,
}

impl Transport {
    /// One connection pool, rustls with the roots of [`crate::tls`], no redirects followed.
    pub(super) fn new(config: GiosgConfig) -> Result<Self, GiosgError> {
        let builder = crate::tls::with_giosg_roots(reqwest::Client::builder().use_rustls_tls())
            .map_err(GiosgError::Config)?;
        let http = builder
            .connect_timeout(config.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("giosg-chat-bridge/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                GiosgError::Config(format!(
                    "cannot build the HTTP client: {}",
                    describe_transport_error(&e)
                ))
            })?;
        Ok(Self { http, config })
    }

    /// The same connection pool with another organization API token.
    pub(super) fn with_api_token(&self, api_token: Secret) -> Self {
        let mut config = self.config.clone();
        config.api_token = api_token;
        Self {
            http: self.http.clone(),
            config,
        }
    }

    pub(super) fn config(&self) -> &GiosgConfig {
        &self.config
    }

    /// One call with its retries (see the table on [`GiosgClient`](super::GiosgClient)).
    /// Returns the body of a 2xx.
    pub(super) async fn send(
        &self,
        endpoint: Endpoint,
        url: &Url,
        auth: Auth<'_>,
        body: Option<&serde_json::Value>,
        known_secrets: &[&str],
    ) -> Result<Bytes, GiosgError> {
        let config = &self.config;
        let mut known: Vec<&str> = known_secrets.to_vec();
        known.push(config.api_token.expose());
        let authorization = match auth {
            Auth::None => None,
            Auth::ApiToken => Some(credential_header("Token", &config.api_token)?),
            Auth::Visitor(token) => Some(credential_header("Bearer", token)?),
        };
        let body = body.map(|b| Bytes::from(b.to_string()));

        let started = Instant::now();
        // This call's own budget, within what is left of the request's (see `budget`).
        let deadline = match super::budget::deadline() {
            Some(request_deadline) => request_deadline.min(started + config.retry_budget),
            None => started + config.retry_budget,
        };
        if deadline <= started {
            return Err(GiosgError::Unavailable {
                endpoint: endpoint.name,
                reason: "the request's time for Giosg is used up; not called".into(),
                status: None,
                may_have_acted: false,
            });
        }
        let mut attempt: u32 = 0;
        let mut last_status: Option<u16> = None;
        loop {
            attempt += 1;
            let attempt_started = Instant::now();
            let remaining = deadline.saturating_duration_since(attempt_started);
            let mut request = self
                .http
                .request(endpoint.verb.method(), url.clone())
                .timeout(config.request_timeout.min(remaining))
                .header(ACCEPT, HeaderValue::from_static("application/json"));
            if let Some(value) = &authorization {
                request = request.header(AUTHORIZATION, value.clone());
            }
            if let Some(body) = &body {
                request = request
                    .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                    .body(body.clone());
            }

            let outcome = match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let retry_after = response
                        .headers()
                        .get(RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| parse_retry_after(v, Utc::now()));
                    match response.bytes().await {
                        Ok(bytes) => Outcome::Answer {
                            status,
                            retry_after,
                            body: bytes,
                        },
                        Err(error) => Outcome::Transport(error),
                    }
                }
                Err(error) => Outcome::Transport(error),
            };

            let elapsed_ms = millis(attempt_started.elapsed());
            let failure = match outcome {
                Outcome::Answer { status, body, .. } if (200..300).contains(&status) => {
                    debug!(
                        endpoint = endpoint.name,
                        method = endpoint.verb.as_str(),
                        status,
                        attempt,
                        elapsed_ms,
                        "Giosg call succeeded"
                    );
                    return Ok(body);
                }
                Outcome::Answer {
                    status,
                    retry_after,
                    body,
                } => {
                    debug!(
                        endpoint = endpoint.name,
                        method = endpoint.verb.as_str(),
                        status,
                        attempt,
                        elapsed_ms,
                        "Giosg call failed"
                    );
                    if status == 429 || (500..600).contains(&status) {
                        let repeatable =
                            endpoint.repeat == Repeat::Safe || matches!(status, 429 | 503);
                        Failure {
                            reason: format!("HTTP {status}"),
                            status: Some(status),
                            repeatable,
                            retry_after,
                        }
                    } else if (400..500).contains(&status) {
                        return Err(GiosgError::Refused {
                            endpoint: endpoint.name,
                            status,
                            message: message_from_body(&body, &known),
                        });
                    } else {
                        return Err(GiosgError::InvalidResponse {
                            endpoint: endpoint.name,
                            reason: format!("unexpected HTTP {status}"),
                        });
                    }
                }
                Outcome::Transport(error) => {
                    let reason = scrub(&describe_transport_error(&error), &known);
                    debug!(
                        endpoint = endpoint.name,
                        method = endpoint.verb.as_str(),
                        attempt,
                        elapsed_ms,
                        error = %reason,
                        "Giosg call failed"
                    );
                    Failure {
                        reason,
                        status: None,
                        // No connection means Giosg never saw the request.
                        repeatable: endpoint.repeat == Repeat::Safe || error.is_connect(),
                        retry_after: None,
                    }
                }
            };

            last_status = failure.status.or(last_status);
            let unavailable = |reason: String| GiosgError::Unavailable {
                endpoint: endpoint.name,
                reason,
                status: last_status,
                may_have_acted: false,
            };
            if !failure.repeatable {
                return Err(GiosgError::Unavailable {
                    endpoint: endpoint.name,
                    reason: format!(
                        "{} (not retried: Giosg may have acted on the request)",
                        failure.reason
                    ),
                    status: last_status,
                    may_have_acted: true,
                });
            }
            if attempt >= config.max_attempts {
                return Err(unavailable(format!(
                    "{} after {attempt} attempts",
                    failure.reason
                )));
            }
            let wait = failure
                .retry_after
                .unwrap_or_else(|| backoff(config.backoff_base, config.backoff_max, attempt));
            // A retry is only worth starting with at least a tenth of a full attempt left.
            let remaining = deadline.saturating_duration_since(Instant::now());
            if wait + config.request_timeout / 10 >= remaining {
                return Err(unavailable(format!(
                    "{} after {attempt} attempts; the retry budget of {} ms does not allow waiting {} ms more",
                    failure.reason,
                    millis(config.retry_budget),
                    millis(wait)
                )));
            }
            warn!(
                endpoint = endpoint.name,
                method = endpoint.verb.as_str(),
                status = failure.status,
                attempt,
                wait_ms = millis(wait),
                reason = %failure.reason,
                "retrying Giosg call"
            );
            tokio::time::sleep(wait).await;
        }
    }
}

/// What one attempt came to: an answer of any status, or no answer.
enum Outcome {
    Answer {
        status: u16,
        retry_after: Option<Duration>,
        body: Bytes,
    },
    Transport(reqwest::Error),
}

/// A failed attempt in the retry loop's terms.
struct Failure {
    reason: String,
    status: Option<u16>,
    repeatable: bool,
    retry_after: Option<Duration>,
}

/// An `Authorization` header value, marked sensitive so that no `Debug` output shows it.
fn credential_header(scheme: &str, credential: &Secret) -> Result<HeaderValue, GiosgError> {
    let mut value = HeaderValue::from_str(&format!("{scheme} {}", credential.expose()))
        .map_err(|_| GiosgError::Config(format!("a {scheme} credential has invalid characters")))?;
    value.set_sensitive(true);
    Ok(value)
}

/// A 2xx body as `T`, read by the tolerant reader: a field that does not read is left out with
/// a warning naming it; a body without what `T` requires is an error that names the endpoint
/// and shows none of `known_secrets`.
pub(super) fn parse<T: DeserializeOwned>(
    endpoint: Endpoint,
    body: &[u8],
    known_secrets: &[&str],
) -> Result<T, GiosgError> {
    let invalid = |reason: String| GiosgError::InvalidResponse {
        endpoint: endpoint.name,
        reason: scrub(&reason, known_secrets),
    };
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|error| invalid(error.to_string()))?;
    let read = tolerant::read::<T>(value).map_err(|error| invalid(error.to_string()))?;
    crate::metrics::fields_dropped(crate::metrics::FieldSource::Giosg, read.dropped.len());
    if !read.dropped.is_empty() {
        tracing::warn!(
            endpoint = endpoint.name,
            dropped_fields = ?read.dropped,
            dropped_field_count = read.dropped.len(),
            "Giosg answer: fields that could not be read were left out"
        );
    }
    Ok(read.value)
}

/// `Retry-After` as seconds, or as an HTTP date.
fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    if let Ok(seconds) = value.parse::<f64>()
        && seconds.is_finite()
        && seconds >= 0.0
    {
        return Some(Duration::from_secs_f64(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// Exponential backoff with full jitter: a random wait up to `base · 2^(attempt−1)`, at most `max`.
fn backoff(base: Duration, max: Duration, attempt: u32) -> Duration {
    let ceiling = base
        .checked_mul(1u32 << attempt.saturating_sub(1).min(20))
        .unwrap_or(max)
        .min(max);
    ceiling.mul_f64(rand::rng().random::<f64>())
}

/// A network error in words, without its URL: the kind, then the innermost cause.
fn describe_transport_error(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else if error.is_body() || error.is_decode() {
        "failed reading the answer"
    } else if error.is_builder() {
        "could not build the request"
    } else {
        "request failed"
    };
    let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(error);
    let mut innermost = None;
    while let Some(current) = cause {
        innermost = Some(current.to_string());
        cause = current.source();
    }
    match innermost {
        Some(innermost) => format!("{kind}: {innermost}"),
        None => kind.to_owned(),
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_accepts_seconds_and_http_dates() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
        assert_eq!(
            parse_retry_after("0.5", now),
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }

    #[test]
    fn backoff_is_jittered_and_capped() {
        let base = Duration::from_millis(100);
        let max = Duration::from_secs(2);
        for attempt in 1..40 {
            let wait = backoff(base, max, attempt);
            let ceiling = (base * 2u32.pow(attempt.min(10) - 1)).min(max);
            assert!(wait <= ceiling, "attempt {attempt}: {wait:?} > {ceiling:?}");
        }
    }
}
