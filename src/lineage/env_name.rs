//! Which environment variable names a run may record.
//!
//! `--env NAME` writes NAME's value into the run record: an object of the history, pushed
//! to every remote and kept for as long as the commits that reach it. A credential there
//! is a leak that cannot be taken back without rewriting history, so a name that says it
//! holds one is refused before anything is read or written. The rule errs towards
//! refusing: a name that only looks like a credential costs the user a different name,
//! a credential recorded costs a rotated key. The command itself still sees every
//! variable of the environment; only the record leaves it out.

use super::Error;

/// Words that name a credential wherever they appear in a name (`PGPASSWORD`,
/// `MY_APIKEY`, `CLIENT_SECRET`).
const CREDENTIAL_WORDS: &[&str] = &[
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "CREDENTIAL",
    "PRIVATE_KEY",
    "PRIVATEKEY",
    "ACCESS_KEY",
    "ACCESSKEY",
    "API_KEY",
    "APIKEY",
    "ACCOUNT_KEY",
    "MASTER_KEY",
];

/// The credential variables object_store reads (besides those the words above catch),
/// upper-cased: paths to key files and bearer tokens by their exact names.
const CLOUD_CREDENTIALS: &[&str] = &[
    "AWS_TOKEN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AZURE_STORAGE_TOKEN",
    "AZURE_STORAGE_SAS_KEY",
    "AZURE_STORAGE_SAS_TOKEN",
    "AZURE_FEDERATED_TOKEN_FILE",
    "GOOGLE_SERVICE_ACCOUNT",
    "GOOGLE_SERVICE_ACCOUNT_PATH",
    "GOOGLE_SERVICE_ACCOUNT_KEY",
    "GOOGLE_BEARER_TOKEN",
];

/// Whether `name` says it holds a credential. Short words count only as a whole part
/// between underscores (`SAS`, `SESSION`, `PASS`) or, for tokens, as the end of one
/// (`HF_TOKEN`, `NPM_AUTHTOKEN`), so `TOKENIZERS_PARALLELISM` or `KANSAS_CITY` stay
/// recordable.
pub fn names_a_credential(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    if CREDENTIAL_WORDS.iter().any(|w| upper.contains(w)) {
        return true;
    }
    if CLOUD_CREDENTIALS.contains(&upper.as_str()) {
        return true;
    }
    upper.split('_').any(|part| {
        part.ends_with("TOKEN")
            || part.ends_with("TOKENS")
            || matches!(part, "SAS" | "SESSION" | "PASS" | "CREDS")
    })
}

/// Check a name given to `--env`: a variable name, and not a credential's.
pub fn check(name: &str) -> Result<(), Error> {
    if name.is_empty() || name.contains(['=', '\0']) {
        return Err(Error::BadEnvName {
            name: name.to_owned(),
        });
    }
    if names_a_credential(name) {
        return Err(Error::CredentialEnv {
            name: name.to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_names_are_refused() {
        for name in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_TOKEN",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "AZURE_STORAGE_ACCOUNT_KEY",
            "AZURE_STORAGE_ACCESS_KEY",
            "AZURE_STORAGE_MASTER_KEY",
            "AZURE_STORAGE_SAS_KEY",
            "AZURE_STORAGE_SAS_TOKEN",
            "AZURE_STORAGE_TOKEN",
            "AZURE_CLIENT_SECRET",
            "AZURE_FEDERATED_TOKEN_FILE",
            "GOOGLE_SERVICE_ACCOUNT",
            "GOOGLE_SERVICE_ACCOUNT_PATH",
            "GOOGLE_SERVICE_ACCOUNT_KEY",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "GOOGLE_BEARER_TOKEN",
            "HF_TOKEN",
            "GITHUB_TOKEN",
            "NPM_AUTHTOKEN",
            "PGPASSWORD",
            "DB_PASS",
            "DB_PASSWD",
            "OPENAI_API_KEY",
            "WANDB_APIKEY",
            "SSH_PRIVATE_KEY",
            "MY_SAS",
            "BROWSER_SESSION",
            "service_creds",
            "aws_secret_access_key",
        ] {
            assert!(names_a_credential(name), "{name} is a credential");
            assert!(
                matches!(check(name), Err(Error::CredentialEnv { .. })),
                "{name}"
            );
        }
    }

    #[test]
    fn ordinary_names_are_recorded() {
        for name in [
            "SEED",
            "CUDA_VISIBLE_DEVICES",
            "TOKENIZERS_PARALLELISM",
            "OMP_NUM_THREADS",
            "KANSAS_CITY",
            "PASSES",
            "AWS_REGION",
            "AWS_ENDPOINT_URL",
            "GOOGLE_BUCKET",
            "AZURE_STORAGE_ACCOUNT_NAME",
            "KEYBOARD",
            "SORT_KEY",
        ] {
            assert!(!names_a_credential(name), "{name} is not a credential");
            assert!(check(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn names_that_are_not_names_are_refused_as_such() {
        for name in ["", "A=B", "A\0B"] {
            assert!(
                matches!(check(name), Err(Error::BadEnvName { .. })),
                "{name:?}"
            );
        }
    }
}
