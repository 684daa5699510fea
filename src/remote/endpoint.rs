//! Endpoint URLs: which values may name the server a cloud remote talks to.
//!
//! Owns: the check every endpoint passes before a client is built from it, wherever it
//! comes from (a remote's `endpoint` setting, `AWS_ENDPOINT_URL` and its kin, an AWS
//! profile's `endpoint_url`), and the environment variables of each kind that set one.
//! Does not own reading settings (`settings`) or building clients (`backend`).
//!
//! Invariant: an endpoint that reaches `object_store` is an absolute `http://` or
//! `https://` URL with a host and nothing that could be a secret (no user name or
//! password, no query). object_store panics signing a request to a URL it cannot parse
//! (`127.0.0.1:9000`, without a scheme), so this check is what stands between a typo and
//! a crash.

use object_store::aws::AmazonS3ConfigKey;
use object_store::azure::AzureConfigKey;
use object_store::gcp::GoogleConfigKey;

use super::url::Kind;

/// Why a value is not an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    NotAUrl,
    NotHttp,
    NoHost,
    UserInfo,
    Query,
}

impl Problem {
    /// What is wrong, to follow the value in a message.
    pub fn describe(self) -> &'static str {
        match self {
            Problem::NotAUrl => {
                "is not an absolute URL (write it as http://host:port or https://host)"
            }
            Problem::NotHttp => "is not an http:// or https:// URL",
            Problem::NoHost => "names no host",
            Problem::UserInfo => {
                "carries a user name or password (credentials belong in .dvx/config.local.toml or the environment)"
            }
            Problem::Query => "may not carry a query or fragment",
        }
    }
}

/// Check `value` as an endpoint (see the module's invariant).
pub fn check(value: &str) -> Result<(), Problem> {
    // The parser the HTTP client itself uses (reqwest's `Url` is the `url` crate's).
    let url = reqwest::Url::parse(value.trim()).map_err(|_| Problem::NotAUrl)?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Problem::NotHttp);
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Problem::NoHost);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Problem::UserInfo);
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Problem::Query);
    }
    Ok(())
}

/// Whether the environment variable `name` sets an endpoint the client of `kind` uses:
/// asked of the client's own key parser, so exactly the variables it reads are checked
/// (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT`, `AWS_ENDPOINT_URL_S3`, `GOOGLE_BASE_URL`,
/// `AZURE_STORAGE_ENDPOINT`, ...).
pub fn is_endpoint_variable(kind: Kind, name: &str) -> bool {
    let key = name.to_ascii_lowercase();
    match kind {
        Kind::S3 => {
            name.starts_with("AWS_")
                && matches!(
                    key.parse::<AmazonS3ConfigKey>(),
                    Ok(AmazonS3ConfigKey::Endpoint
                        | AmazonS3ConfigKey::S3Endpoint
                        | AmazonS3ConfigKey::StsEndpoint)
                )
        }
        Kind::Gcs => {
            name.starts_with("GOOGLE_")
                && matches!(key.parse::<GoogleConfigKey>(), Ok(GoogleConfigKey::BaseUrl))
        }
        Kind::Azure => {
            name.starts_with("AZURE_")
                && matches!(key.parse::<AzureConfigKey>(), Ok(AzureConfigKey::Endpoint))
        }
        Kind::Directory => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_absolute_http_urls_with_a_host_and_no_secrets() {
        for good in [
            "http://127.0.0.1:9000",
            "https://s3.example.com",
            "http://localhost:10000/devstoreaccount1",
            " https://h/ ",
        ] {
            assert_eq!(check(good), Ok(()), "{good}");
        }
        for (bad, problem) in [
            ("127.0.0.1:9000", Problem::NotAUrl),
            ("notaurl", Problem::NotAUrl),
            ("ftp://x y", Problem::NotAUrl),
            ("", Problem::NotAUrl),
            ("ftp://host", Problem::NotHttp),
            ("localhost:9000", Problem::NotHttp),
            ("http://u:TOPSECRET@127.0.0.1:9", Problem::UserInfo),
            ("http://u@h", Problem::UserInfo),
            ("https://h/?sig=TOPSECRET", Problem::Query),
            ("https://h/#x", Problem::Query),
        ] {
            assert_eq!(check(bad), Err(problem), "{bad}");
        }
    }

    #[test]
    fn the_endpoint_variables_are_the_clients_own() {
        for name in ["AWS_ENDPOINT_URL", "AWS_ENDPOINT", "AWS_ENDPOINT_URL_S3"] {
            assert!(is_endpoint_variable(Kind::S3, name), "{name}");
        }
        assert!(!is_endpoint_variable(Kind::S3, "AWS_REGION"));
        assert!(!is_endpoint_variable(Kind::S3, "ENDPOINT"));
        assert!(is_endpoint_variable(Kind::Gcs, "GOOGLE_BASE_URL"));
        assert!(is_endpoint_variable(Kind::Azure, "AZURE_STORAGE_ENDPOINT"));
        assert!(!is_endpoint_variable(Kind::Azure, "AWS_ENDPOINT_URL"));
        assert!(!is_endpoint_variable(Kind::Directory, "AWS_ENDPOINT_URL"));
    }
}
