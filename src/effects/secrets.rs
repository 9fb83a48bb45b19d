//! Secrets at rest (a Stripe secret key, a channel token, a one-time code in the outbox): sealed with
//! XChaCha20-Poly1305 under one key the operator provides (`FAVCRM_SECRETS_KEY`, 32 bytes in
//! base64) or, when none is given, one generated into the data folder (`secrets.key`, mode
//! 0600) on first start. Each value gets a random 24-byte nonce, and the organisation and the
//! purpose are authenticated with it, so a sealed value copied to another organisation's row,
//! or from the key column to the webhook column, does not open. The database only ever holds
//! the sealed bytes; they are opened in the server just before use and never logged.

use std::path::Path;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use uuid::Uuid;

const NONCE_LEN: usize = 24;

pub struct Secrets {
    cipher: XChaCha20Poly1305,
    /// Keys values derived from the secrets key (HMAC-SHA256), such as webhook signing
    /// secrets, which are then never stored: a key of its own, so a derived value says nothing
    /// about the encryption key.
    derivation: [u8; 32],
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(…)")
    }
}

impl Secrets {
    /// The operator's key (base64 of 32 bytes), else the data folder's, made if missing.
    pub fn load(key: Option<&str>, data_dir: &Path) -> anyhow::Result<Self> {
        let bytes = match key {
            Some(text) => STANDARD.decode(text.trim()).context("FAVCRM_SECRETS_KEY is not base64")?,
            None => key_file(&data_dir.join("secrets.key"))?,
        };
        anyhow::ensure!(bytes.len() == 32, "the secrets key must be 32 bytes (base64 of 32 random bytes)");
        let derivation = hmac_sha256(&bytes, &[b"favcrm derivation key v1"]);
        Ok(Self { cipher: XChaCha20Poly1305::new_from_slice(&bytes).expect("32-byte key"), derivation })
    }

    /// 32 bytes derived from the secrets key for an organisation, a purpose and a subject (for
    /// a webhook endpoint: its id and the secret's generation). The same inputs give the same
    /// bytes on every server with the same key; any other input gives unrelated bytes.
    pub fn derive(&self, org: Uuid, purpose: &str, subject: &str) -> [u8; 32] {
        hmac_sha256(&self.derivation, &[org.as_bytes(), b":", purpose.as_bytes(), b":", subject.as_bytes()])
    }

    /// nonce ‖ ciphertext ‖ tag of `plaintext`, bound to the organisation and purpose.
    pub fn seal(&self, org: Uuid, purpose: &str, plaintext: &str) -> Vec<u8> {
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let nonce = XNonce::try_from(&nonce_bytes[..]).expect("24-byte nonce");
        let aad = associated(org, purpose);
        let sealed = self
            .cipher
            .encrypt(&nonce, Payload { msg: plaintext.as_bytes(), aad: &aad })
            .expect("encryption cannot fail for a value this size");
        [nonce_bytes.as_slice(), &sealed].concat()
    }

    /// The plaintext of a value sealed for this organisation and purpose, or an error when it
    /// was sealed under another key, for another organisation or purpose, or was altered.
    pub fn open(&self, org: Uuid, purpose: &str, sealed: &[u8]) -> anyhow::Result<String> {
        anyhow::ensure!(sealed.len() > NONCE_LEN, "sealed value too short");
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).expect("24-byte nonce");
        let aad = associated(org, purpose);
        let plain = self
            .cipher
            .decrypt(&nonce, Payload { msg: body, aad: &aad })
            .map_err(|_| anyhow::anyhow!("the sealed value does not open with this server's secrets key"))?;
        String::from_utf8(plain).context("sealed value is not text")
    }
}

/// Bytes from PostgreSQL's base64 (`encode(…, 'base64')`), which breaks lines every 76 characters.
pub fn decode_base64(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD.decode(compact)
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key).expect("any key length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

fn associated(org: Uuid, purpose: &str) -> Vec<u8> {
    [org.as_bytes().as_slice(), b":", purpose.as_bytes()].concat()
}

/// Reads the key file, or writes a new random key to it (readable by its owner only).
fn key_file(path: &Path) -> anyhow::Result<Vec<u8>> {
    if let Ok(text) = std::fs::read_to_string(path) {
        return STANDARD.decode(text.trim()).with_context(|| format!("{} is not base64", path.display()));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let key: [u8; 32] = rand::random();
    let text = STANDARD.encode(key);
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    tracing::info!(path = %path.display(), "generated a secrets key (keep it with the database: without it the stored provider secrets cannot be read)");
    Ok(key.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_for_its_organisation_and_purpose() {
        let dir = std::env::temp_dir().join(format!("favcrm-secrets-{}", Uuid::new_v4().simple()));
        let secrets = Secrets::load(None, &dir).unwrap();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let sealed = secrets.seal(a, "stripe_secret_key", "sk_test_123");
        assert_eq!(secrets.open(a, "stripe_secret_key", &sealed).unwrap(), "sk_test_123");
        assert!(secrets.open(b, "stripe_secret_key", &sealed).is_err());
        assert!(secrets.open(a, "stripe_webhook_secret", &sealed).is_err());
        assert_ne!(secrets.seal(a, "p", "x"), secrets.seal(a, "p", "x"), "a fresh nonce each time");
        // The same folder gives the same key back; another key does not open it.
        assert_eq!(Secrets::load(None, &dir).unwrap().open(a, "stripe_secret_key", &sealed).unwrap(), "sk_test_123");
        let other = Secrets::load(Some(&STANDARD.encode([7u8; 32])), &dir).unwrap();
        assert!(other.open(a, "stripe_secret_key", &sealed).is_err());
        let derived = secrets.derive(a, "webhook_secret", "e:1");
        assert_eq!(derived, Secrets::load(None, &dir).unwrap().derive(a, "webhook_secret", "e:1"), "stable");
        assert_ne!(derived, secrets.derive(b, "webhook_secret", "e:1"));
        assert_ne!(derived, secrets.derive(a, "webhook_secret", "e:2"));
        assert_ne!(derived, other.derive(a, "webhook_secret", "e:1"), "another key derives other values");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("secrets.key")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
