//! Session tokens: which session a long-poll request belongs to, signed so that a client can
//! neither forge one nor guess another's.
//!
//! A token is `<payload>.<signature>`, both unpadded URL-safe base64: the payload is the session's
//! id and 16 random bytes, the signature its HMAC-SHA256 under a key drawn from the system's
//! random source when the server starts. A token therefore means nothing to another server
//! process, and one from a restarted server is simply unknown (the client gets a new session).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

/// Signs and checks session tokens with one server's key.
pub(crate) struct Signer {
    key: hmac::Key,
    random: SystemRandom,
}

/// Bytes of a token's payload: the session id (8) and a random nonce (16).
const PAYLOAD_LEN: usize = 24;

impl Signer {
    /// A signer with a fresh random key.
    pub(crate) fn new() -> Self {
        let random = SystemRandom::new();
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &random)
            .expect("the system's random source failed while making the long-poll signing key");
        Signer { key, random }
    }

    /// A new token for session `id`.
    pub(crate) fn sign(&self, id: u64) -> String {
        let mut payload = [0u8; PAYLOAD_LEN];
        payload[..8].copy_from_slice(&id.to_be_bytes());
        // A failing random source leaves the nonce zero; the signature still protects the id.
        if self.random.fill(&mut payload[8..]).is_err() {
            tracing::warn!("the system's random source failed; a long-poll token has no nonce");
        }
        let tag = hmac::sign(&self.key, &payload);
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(tag.as_ref())
        )
    }

    /// The session id in `token`, if this signer made it.
    pub(crate) fn verify(&self, token: &str) -> Option<u64> {
        let (payload, tag) = token.split_once('.')?;
        let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        if payload.len() != PAYLOAD_LEN {
            return None;
        }
        hmac::verify(&self.key, &payload, &tag).ok()?;
        Some(u64::from_be_bytes(payload[..8].try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_its_session_and_only_its_signer_accepts_it() {
        let signer = Signer::new();
        let token = signer.sign(42);
        assert_eq!(signer.verify(&token), Some(42));
        assert_eq!(Signer::new().verify(&token), None, "another server's key");
        assert_ne!(signer.sign(42), token, "each token has its own nonce");
    }

    #[test]
    fn a_changed_or_malformed_token_is_refused() {
        let signer = Signer::new();
        let token = signer.sign(7);
        let (payload, tag) = token.split_once('.').unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(payload).unwrap();
        bytes[7] = 8; // claim session 8 with session 7's signature
        let forged = format!("{}.{tag}", URL_SAFE_NO_PAD.encode(bytes));
        assert_eq!(signer.verify(&forged), None);
        for bad in [
            "",
            ".",
            "bogus",
            "a.b",
            &token[..token.len() - 2],
            &format!("{token}x"),
        ] {
            assert_eq!(signer.verify(bad), None, "{bad:?}");
        }
    }
}
