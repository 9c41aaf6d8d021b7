//! Reading NATS credentials files (`.creds`): a user JWT plus an nkey seed, each between
//! `-----BEGIN ...-----` / `------END ...------` fences, as written by `nsc` and `nats`.

use thiserror::Error;

/// The two secrets a NATS `.creds` file carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub jwt: String,
    pub seed: String,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum CredsError {
    #[error("credentials file has no user JWT block (-----BEGIN NATS USER JWT-----)")]
    MissingJwt,
    #[error("credentials file has no nkey seed block (-----BEGIN USER NKEY SEED-----)")]
    MissingSeed,
}

/// Parses the text of a `.creds` file. The first fenced block is the JWT, the second the seed
/// (the fence labels vary between tools, so they are recognised by what they contain).
pub fn parse(text: &str) -> Result<Credentials, CredsError> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines().map(str::trim) {
        if line.starts_with("---") && line.contains("BEGIN") {
            current = Some(String::new());
        } else if line.starts_with("---") && line.contains("END") {
            if let Some(block) = current.take() {
                blocks.push(block);
            }
        } else if let Some(block) = current.as_mut() {
            block.push_str(line);
        }
    }
    let jwt = blocks
        .iter()
        .find(|b| b.starts_with("eyJ"))
        .cloned()
        .ok_or(CredsError::MissingJwt)?;
    let seed = blocks
        .iter()
        .find(|b| b.starts_with('S'))
        .cloned()
        .ok_or(CredsError::MissingSeed)?;
    Ok(Credentials { jwt, seed })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "-----BEGIN NATS USER JWT-----
eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.payload.sig
------END NATS USER JWT------

************************* IMPORTANT *************************
NKEY Seed printed below can be used to sign and prove identity.

-----BEGIN USER NKEY SEED-----
SUAIBDPBAUTWCWBKIO6XHQNINK5FWJW4OHLXC3HQ2KFE4PEJUA44CNHTC4
------END USER NKEY SEED------
";

    #[test]
    fn reads_jwt_and_seed() {
        let creds = parse(SAMPLE).expect("sample parses");
        assert_eq!(
            creds.jwt,
            "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.payload.sig"
        );
        assert_eq!(
            creds.seed,
            "SUAIBDPBAUTWCWBKIO6XHQNINK5FWJW4OHLXC3HQ2KFE4PEJUA44CNHTC4"
        );
    }

    #[test]
    fn missing_seed_is_an_error() {
        let only_jwt = SAMPLE.split("****").next().unwrap_or_default();
        assert_eq!(parse(only_jwt), Err(CredsError::MissingSeed));
    }

    #[test]
    fn empty_file_is_an_error() {
        assert_eq!(parse(""), Err(CredsError::MissingJwt));
    }
}
