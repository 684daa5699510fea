//! AWS shared credentials and config files, which `object_store` does not read.
//!
//! Owns: finding the profile the AWS CLI and SDKs would use (`AWS_PROFILE`, else
//! `default`) in `~/.aws/credentials` and `~/.aws/config` (or the files
//! `AWS_SHARED_CREDENTIALS_FILE` and `AWS_CONFIG_FILE` name), and reading its static keys,
//! region and endpoint. Paths come from the [`Environment`] passed in (`HOME` included),
//! never from the process. Does not own precedence (`backend`: settings and the
//! environment win over a profile) or other credential sources (SSO, processes), which
//! are not supported.

use std::path::PathBuf;

use super::settings::{Environment, Secret};

/// What a profile provides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    pub access_key_id: Option<Secret>,
    pub secret_access_key: Option<Secret>,
    pub session_token: Option<Secret>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("AWS profile '{profile}' (from AWS_PROFILE) is in neither {credentials} nor {config}")]
    NoSuchProfile {
        profile: String,
        credentials: String,
        config: String,
    },
}

/// The profile the environment selects, if its files hold it. A profile named by
/// `AWS_PROFILE` that is nowhere is an error; a missing `default` is not.
pub fn load(env: &Environment) -> Result<Option<Profile>, Error> {
    let named = env.get("AWS_PROFILE").filter(|p| !p.is_empty());
    let profile = named.map_or("default", String::as_str);
    let home = env.get("HOME").map(PathBuf::from);
    let path = |var: &str, file: &str| -> Option<PathBuf> {
        env.get(var)
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".aws").join(file)))
    };
    let credentials_path = path("AWS_SHARED_CREDENTIALS_FILE", "credentials");
    let config_path = path("AWS_CONFIG_FILE", "config");
    let read = |p: &Option<PathBuf>| p.as_ref().and_then(|p| std::fs::read_to_string(p).ok());
    // The credentials file names sections by profile; the config file by `profile
    // <name>`, except `default`.
    let config_section = if profile == "default" {
        "default".to_owned()
    } else {
        format!("profile {profile}")
    };
    let creds = read(&credentials_path).and_then(|t| section(&t, profile));
    let config = read(&config_path).and_then(|t| section(&t, &config_section));
    if creds.is_none() && config.is_none() {
        if named.is_some() {
            let shown = |p: &Option<PathBuf>| {
                p.as_ref()
                    .map_or("(no HOME)".to_owned(), |p| p.display().to_string())
            };
            return Err(Error::NoSuchProfile {
                profile: profile.into(),
                credentials: shown(&credentials_path),
                config: shown(&config_path),
            });
        }
        return Ok(None);
    }
    // Keys may sit in either file; the credentials file wins.
    let get = |key: &str| -> Option<String> {
        creds
            .as_ref()
            .and_then(|s| lookup(s, key))
            .or_else(|| config.as_ref().and_then(|s| lookup(s, key)))
    };
    Ok(Some(Profile {
        access_key_id: get("aws_access_key_id").map(Secret::new),
        secret_access_key: get("aws_secret_access_key").map(Secret::new),
        session_token: get("aws_session_token").map(Secret::new),
        region: get("region"),
        endpoint_url: get("endpoint_url"),
    }))
}

/// The `key = value` pairs of section `[name]` of an INI text, if it has one.
fn section(text: &str, name: &str) -> Option<Vec<(String, String)>> {
    let mut found = None;
    let mut pairs = Vec::new();
    let mut in_section = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_section = header.trim() == name;
            if in_section {
                found = Some(());
            }
            continue;
        }
        if in_section && let Some((k, v)) = line.split_once('=') {
            pairs.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    found.map(|()| pairs)
}

fn lookup(pairs: &[(String, String)], key: &str) -> Option<String> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Environment {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_selected_profile_is_read_from_both_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let aws = dir.path().join(".aws");
        std::fs::create_dir_all(&aws).expect("mkdir");
        crate::atomic::write(
            &aws.join("credentials"),
            b"[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = s1\n\n# team\n[team]\naws_access_key_id=AKIDTEAM\naws_secret_access_key = s2\n",
        )
        .expect("write");
        crate::atomic::write(
            &aws.join("config"),
            b"[default]\nregion = eu-west-1\n[profile team]\nregion = us-east-2\nendpoint_url = http://minio:9000\n",
        )
        .expect("write");
        let home = dir.path().to_str().expect("utf-8");
        let default = load(&env(&[("HOME", home)])).expect("ok").expect("found");
        assert_eq!(default.access_key_id, Some(Secret::new("AKIDDEFAULT")));
        assert_eq!(default.region.as_deref(), Some("eu-west-1"));
        let team = load(&env(&[("HOME", home), ("AWS_PROFILE", "team")]))
            .expect("ok")
            .expect("found");
        assert_eq!(team.secret_access_key, Some(Secret::new("s2")));
        assert_eq!(team.region.as_deref(), Some("us-east-2"));
        assert_eq!(team.endpoint_url.as_deref(), Some("http://minio:9000"));
        let err = load(&env(&[("HOME", home), ("AWS_PROFILE", "nope")])).expect_err("absent");
        assert!(err.to_string().contains("'nope'"), "{err}");
        assert_eq!(load(&env(&[("HOME", "/nonexistent")])).expect("ok"), None);
        assert_eq!(load(&Environment::new()).expect("ok"), None);
    }
}
