//! NATS decentralised auth for tests: an operator, its accounts and a user, as `nsc` would make
//! them, signed here with nkeys so the tests need no Go tool. A hub `nats-server` in operator
//! mode (memory resolver, accounts preloaded) trusts them; the user's `.creds` file is what
//! `scripts/up --nats-creds` takes.
//!
//! JWTs are `base64url(header).base64url(claims).base64url(ed25519 signature)`, the header
//! naming the `ed25519-nkey` algorithm, the claims signed by the issuer's nkey.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use data_encoding::{BASE32_NOPAD, BASE64URL_NOPAD};
use nkeys::KeyPair;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// One account: its key and the JWT the operator signed for it.
pub struct Account {
    pub key: KeyPair,
    pub jwt: String,
}

/// A trust chain: operator -> system account, application account -> user.
pub struct Trust {
    pub operator_jwt: String,
    pub system: Account,
    pub app: Account,
    pub user_jwt: String,
    user: KeyPair,
}

impl Trust {
    /// A fresh operator with a system account and one application account, and one user of the
    /// application account (no limits, may publish and subscribe anything in it).
    pub fn generate(name: &str) -> anyhow::Result<Self> {
        let operator = KeyPair::new_operator();
        let op_pub = operator.public_key();
        let operator_jwt = sign(&operator, &op_pub, name, json!({"type": "operator", "version": 2}))?;
        let account = |account_name: &str| -> anyhow::Result<Account> {
            let key = KeyPair::new_account();
            let limits = json!({
                "subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
                "wildcards": true, "conn": -1, "leaf": -1,
            });
            let claims = json!({"type": "account", "version": 2, "limits": limits});
            let jwt = sign(&operator, &key.public_key(), account_name, claims)?;
            Ok(Account { key, jwt })
        };
        let system = account("SYS")?;
        let app = account(&format!("{name}-app"))?;
        let user = KeyPair::new_user();
        let user_claims = json!({
            "type": "user", "version": 2, "pub": {}, "sub": {},
            "subs": -1, "data": -1, "payload": -1,
        });
        let user_jwt = sign(&app.key, &user.public_key(), &format!("{name}-user"), user_claims)?;
        Ok(Trust { operator_jwt, system, app, user_jwt, user })
    }

    /// The user's credentials in the `.creds` layout `nsc generate creds` writes.
    pub fn creds(&self) -> anyhow::Result<String> {
        let seed = self.user.seed().context("user seed")?;
        Ok(format!(
            "-----BEGIN NATS USER JWT-----\n{}\n------END NATS USER JWT------\n\n\
             ************************* IMPORTANT *************************\n\
             NKEY Seed printed below can be used to sign and prove identity.\n\
             NKEYs are sensitive and should be treated as secrets.\n\n\
             -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n",
            self.user_jwt
        ))
    }

    /// Writes the creds file, readable by its owner only.
    pub fn write_creds(&self, path: &Path) -> anyhow::Result<()> {
        use std::os::unix::fs::OpenOptionsExt as _;
        use std::io::Write as _;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("creating {}", path.display()))?;
        file.write_all(self.creds()?.as_bytes())?;
        Ok(())
    }

    /// The operator-mode part of a hub's nats-server config: trust this operator, resolve its
    /// two accounts from memory.
    pub fn server_config(&self) -> String {
        format!(
            "operator: \"{}\"\nsystem_account: \"{}\"\nresolver: MEMORY\nresolver_preload: {{\n    {}: \"{}\"\n    {}: \"{}\"\n}}\n",
            self.operator_jwt,
            self.system.key.public_key(),
            self.system.key.public_key(),
            self.system.jwt,
            self.app.key.public_key(),
            self.app.jwt,
        )
    }
}

/// A JWT for `subject`, issued and signed by `issuer`, with `nats` as its NATS claims.
fn sign(issuer: &KeyPair, subject: &str, name: &str, nats: Value) -> anyhow::Result<String> {
    let iat = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let mut claims = json!({
        "jti": "", "iat": iat, "iss": issuer.public_key(), "name": name, "sub": subject, "nats": nats,
    });
    // The JWT id, as the Go jwt library makes it: base32 of the SHA-256 of the claims without it.
    let digest = Sha256::digest(serde_json::to_vec(&claims)?);
    claims["jti"] = Value::String(BASE32_NOPAD.encode(&digest));
    let header = BASE64URL_NOPAD.encode(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
    let body = BASE64URL_NOPAD.encode(&serde_json::to_vec(&claims)?);
    let signing_input = format!("{header}.{body}");
    let signature = issuer.sign(signing_input.as_bytes()).context("signing a JWT")?;
    Ok(format!("{signing_input}.{}", BASE64URL_NOPAD.encode(&signature)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(jwt: &str) -> Value {
        let body = jwt.split('.').nth(1).expect("three parts");
        serde_json::from_slice(&BASE64URL_NOPAD.decode(body.as_bytes()).expect("base64url")).expect("json")
    }

    #[test]
    fn the_chain_is_signed_by_each_issuer() {
        let trust = Trust::generate("t").expect("generates");
        let user = claims(&trust.user_jwt);
        assert_eq!(user["iss"], trust.app.key.public_key());
        assert_eq!(user["nats"]["type"], "user");
        let app = claims(&trust.app.jwt);
        assert_eq!(app["iss"], claims(&trust.operator_jwt)["sub"]);
        // The signature verifies with the issuer's public key.
        let (input, sig) = trust.user_jwt.rsplit_once('.').expect("signed");
        let sig = BASE64URL_NOPAD.decode(sig.as_bytes()).expect("base64url");
        trust.app.key.verify(input.as_bytes(), &sig).expect("valid signature");
        let creds = trust.creds().expect("creds");
        assert!(creds.contains("-----BEGIN NATS USER JWT-----") && creds.contains("-----BEGIN USER NKEY SEED-----\nSU"));
    }
}
