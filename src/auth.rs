//! Low-entropy secrets: 6-digit one-time codes (CSPRNG, argon2id).
//!
//! The database never sees a code: it stores the argon2id hash made here, counts attempts,
//! and hands the hash back for [`verify_code`] to check.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::{Rng, RngExt};

use crate::error::ApiError;

/// A fresh 6-digit code, uniformly drawn from a cryptographically secure generator.
pub fn new_code() -> String {
    format!("{:06}", rand::rng().random_range(0..1_000_000u32))
}

/// argon2id with OWASP's minimum settings (19 MiB, 2 passes, 1 lane). A code lives ten
/// minutes and allows five guesses; the hash protects codes in a leaked database.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// At most one argon2 computation per core at a time: a flood of registrations queues here
/// instead of starting a thread and 19 MiB per request.
async fn argon2_permit() -> Result<tokio::sync::SemaphorePermit<'static>, ApiError> {
    static PERMITS: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
        tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
    });
    PERMITS.acquire().await.map_err(ApiError::internal)
}

/// The PHC string (`$argon2id$v=19$…`) of a code, computed off the async threads.
pub async fn hash_code(code: String) -> Result<String, ApiError> {
    let _permit = argon2_permit().await?;
    tokio::task::spawn_blocking(move || {
        let mut bytes = [0u8; 16];
        rand::rng().fill_bytes(&mut bytes);
        let salt = SaltString::encode_b64(&bytes)?;
        argon2().hash_password(code.as_bytes(), &salt).map(|h| h.to_string())
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)
}

/// Whether `code` matches `hash`. The comparison of the derived keys is constant-time.
pub async fn verify_code(code: String, hash: String) -> Result<bool, ApiError> {
    let _permit = argon2_permit().await?;
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&hash).map_err(ApiError::internal)?;
        Ok(argon2().verify_password(code.as_bytes(), &parsed).is_ok())
    })
    .await
    .map_err(ApiError::internal)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits() {
        for _ in 0..1000 {
            let code = new_code();
            assert_eq!(code.len(), 6);
            assert!(code.bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[tokio::test]
    async fn a_code_verifies_against_its_own_hash_only() {
        let hash = hash_code("123456".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_code("123456".into(), hash.clone()).await.unwrap());
        assert!(!verify_code("123457".into(), hash.clone()).await.unwrap());
        let other = hash_code("123456".into()).await.unwrap();
        assert_ne!(hash, other, "each hash has its own salt");
    }
}
