//! Random tokens and their stored digests.

use sha2::{Digest, Sha256};

/// `n` random bytes from the operating system, hex encoded.
pub fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    fill(&mut buf);
    hex::encode(buf)
}

/// Fills `buf` from the operating system's generator.
pub fn fill(buf: &mut [u8]) {
    // The OS generator failing is not recoverable: refuse to go on with weak tokens.
    if let Err(e) = getrandom::fill(buf) {
        panic!("the operating system's random generator failed: {e}");
    }
}

/// The stored form of a session token or API key.
pub fn sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

const KEY_ALPHABET: &[u8; 36] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// `API-` followed by 32 uppercase letters and digits, uniformly drawn.
pub fn new_api_key() -> String {
    let mut key = String::from("API-");
    while key.len() < 36 {
        let mut byte = [0u8; 1];
        fill(&mut byte);
        // 252 = 7 * 36: reject the tail so every symbol is equally likely.
        if byte[0] < 252 {
            key.push(KEY_ALPHABET[usize::from(byte[0] % 36)] as char);
        }
    }
    key
}

/// A random password for the first administrator: 24 characters from an unambiguous set.
pub fn new_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut out = String::new();
    while out.len() < 24 {
        let mut byte = [0u8; 1];
        fill(&mut byte);
        let limit = 256 - 256 % ALPHABET.len();
        if usize::from(byte[0]) < limit {
            out.push(ALPHABET[usize::from(byte[0]) % ALPHABET.len()] as char);
        }
    }
    out
}

/// Compares two secrets in time independent of where they first differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_have_the_octopus_shape() {
        let key = new_api_key();
        assert_eq!(key.len(), 36);
        assert!(key.starts_with("API-"));
        assert!(key[4..]
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
        assert_ne!(key, new_api_key());
    }

    #[test]
    fn digests_and_comparison() {
        assert_eq!(sha256_hex("abc").len(), 64);
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
        assert_eq!(random_hex(32).len(), 64);
        assert_eq!(new_password().len(), 24);
    }
}
