//! Webhook URLs: parsing (http and https only) and redaction for logs and answers.
//!
//! Plain functions on `url::Url`, below the configuration and the webhook emitter, so both can
//! use them without depending on each other.

use url::Url;

/// Parses a webhook URL, accepting only `http` and `https`.
pub(crate) fn parse_webhook_url(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|e| e.to_string())?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        other => Err(format!("unsupported scheme {other:?}")),
    }
}

/// The URL with every query value and any password replaced by `REDACTED`.
pub(crate) fn redact_url(url: &Url) -> String {
    let mut url = url.clone();
    if url.password().is_some() {
        // Only fails for URLs that cannot have credentials, which then have no password.
        let _ = url.set_password(Some("REDACTED"));
    }
    if url.query().is_some() {
        let names: Vec<String> = url
            .query_pairs()
            .map(|(name, _)| name.into_owned())
            .collect();
        let mut pairs = url.query_pairs_mut();
        pairs.clear();
        for name in names {
            pairs.append_pair(&name, "REDACTED");
        }
        drop(pairs);
    }
    url.to_string()
}

/// [`redact_url`] for a string that may not parse.
pub(crate) fn redact_url_str(raw: &str) -> String {
    Url::parse(raw).map_or_else(|_| "<unparsable url>".to_owned(), |url| redact_url(&url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_hides_query_values_and_passwords() {
        let url = Url::parse("http://user:pw@127.0.0.1:9/hook?token=s3cret&x=1").unwrap();
        let redacted = redact_url(&url);
        assert!(!redacted.contains("s3cret"));
        assert!(!redacted.contains("pw"));
        assert!(redacted.contains("token=REDACTED"));
        assert!(redacted.contains("x=REDACTED"));
    }
}
