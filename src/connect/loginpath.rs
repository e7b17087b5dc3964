//! The login path file (`~/.mylogin.cnf`, written by `mysql_config_editor`), read as the mysql
//! client reads it (mysys/my_default.cc `my_read_login_file`, mysys/my_aes_openssl.cc):
//!
//! - 4 unused bytes, then a 20-byte key, XOR-folded into the 16-byte AES-128 key
//!   (`rkey[i % 16] ^= key[i]`);
//! - then records: a 4-byte little-endian length and that many bytes of AES-128-ECB with PKCS#7
//!   padding, each decrypting to one option-file line (`[client]`, `user = "app"`, ...).
//!
//! The decrypted text is an ordinary option file, merged after every other one (it is the last
//! file the client reads), also under `--defaults-file` and `--no-defaults` as MySQL does, unless
//! `--no-login-paths`. Like the client, a file others may read or that is executable is ignored
//! with a warning. The path is `$MYSQL_TEST_LOGIN_FILE` when set, else `$HOME/.mylogin.cnf`.
//!
//! The block cipher is RustCrypto's `aes` (decryption, plus the encryption the tests use to write
//! files); the framing, the caps and the padding checks are ours. It must never panic on any
//! input, and never put decrypted text into an error message.

use std::path::{Path, PathBuf};

use aes::Aes128;
use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};

/// The file's path for this environment.
pub fn path(home: Option<&Path>, test_file: Option<&str>) -> Option<PathBuf> {
    match test_file {
        Some(f) if !f.is_empty() => Some(PathBuf::from(f)),
        _ => home.map(|h| h.join(".mylogin.cnf")),
    }
}

/// The largest login file read (mysql_config_editor files are a few hundred bytes).
const MAX_FILE: usize = 1 << 20;

/// The decrypted text of a login file's bytes. The error never contains file contents.
pub fn decrypt(bytes: &[u8]) -> Result<String, String> {
    if bytes.len() > MAX_FILE {
        return Err("larger than 1 MiB: not a login path file".into());
    }
    if bytes.len() < 24 {
        return Err("too short to be a login path file".into());
    }
    let key = fold_key(&bytes[4..24]);
    let rk = cipher(&key);
    let mut out = Vec::new();
    let mut rest = &bytes[24..];
    while !rest.is_empty() {
        if rest.len() < 4 {
            return Err("truncated record length".into());
        }
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        rest = &rest[4..];
        if len == 0 || !len.is_multiple_of(16) || len > rest.len() {
            return Err("corrupt record (length is not whole AES blocks)".into());
        }
        let mut plain = Vec::with_capacity(len);
        for block in rest[..len].chunks_exact(16) {
            let mut b = [0u8; 16];
            b.copy_from_slice(block);
            decrypt_block(&rk, &mut b);
            plain.extend_from_slice(&b);
        }
        let pad = *plain.last().unwrap_or(&0) as usize;
        if pad == 0
            || pad > 16
            || plain[plain.len() - pad..]
                .iter()
                .any(|&p| p as usize != pad)
        {
            return Err("corrupt record (bad padding: wrong key?)".into());
        }
        plain.truncate(plain.len() - pad);
        out.extend_from_slice(&plain);
        rest = &rest[len..];
    }
    String::from_utf8(out).map_err(|_| "decrypted text is not UTF-8".to_string())
}

/// Encrypt option-file text as mysql_config_editor does (for tests and fixtures): `key` is the
/// 20 bytes stored in the file, each line one record.
pub fn encrypt(text: &str, key: &[u8; 20]) -> Vec<u8> {
    let rk = cipher(&fold_key(key));
    let mut out = vec![0u8; 4];
    out.extend_from_slice(key);
    for line in text.lines() {
        let mut plain = format!("{line}\n").into_bytes();
        let pad = 16 - plain.len() % 16;
        let pad_byte = u8::try_from(pad).expect("a pad is 1 to 16 bytes");
        plain.extend(std::iter::repeat_n(pad_byte, pad));
        let len = u32::try_from(plain.len()).expect("a login path line is far below 4 GiB");
        out.extend_from_slice(&len.to_le_bytes());
        for block in plain.chunks_exact(16) {
            let mut b = [0u8; 16];
            b.copy_from_slice(block);
            encrypt_block(&rk, &mut b);
            out.extend_from_slice(&b);
        }
    }
    out
}

fn fold_key(key: &[u8]) -> [u8; 16] {
    let mut k = [0u8; 16];
    for (i, b) in key.iter().enumerate() {
        k[i % 16] ^= b;
    }
    k
}

/// AES-128 with the folded key (RustCrypto's `aes`, the block cipher alone: the records are
/// ECB, one block at a time, as my_aes_openssl.cc does with `EVP_aes_128_ecb`).
fn cipher(key: &[u8; 16]) -> Aes128 {
    Aes128::new(&(*key).into())
}

fn encrypt_block(c: &Aes128, b: &mut [u8; 16]) {
    c.encrypt_block(b.into());
}

fn decrypt_block(c: &Aes128, b: &mut [u8; 16]) {
    c.decrypt_block(b.into());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn fips_197_appendix_c1() {
        let key: [u8; 16] = hex("000102030405060708090a0b0c0d0e0f").try_into().unwrap();
        let rk = cipher(&key);
        let mut b: [u8; 16] = hex("00112233445566778899aabbccddeeff").try_into().unwrap();
        encrypt_block(&rk, &mut b);
        assert_eq!(b.to_vec(), hex("69c4e0d86a7b0430d8cdb78070b4c55a"));
        decrypt_block(&rk, &mut b);
        assert_eq!(b.to_vec(), hex("00112233445566778899aabbccddeeff"));
    }

    #[test]
    fn round_trip_and_corruption() {
        let text =
            "[client]\nuser = \"app\"\npassword = \"s3cr3t pw\"\n[prod]\nhost = \"db.example\"\n";
        let key = *b"0123456789abcdefghij";
        let bytes = encrypt(text, &key);
        assert_eq!(decrypt(&bytes).unwrap(), text);
        // Every truncation and every flipped byte is an error or text, never a panic.
        for n in 0..bytes.len() {
            let _ = decrypt(&bytes[..n]);
            let mut b = bytes.clone();
            b[n] ^= 0x5a;
            let _ = decrypt(&b);
        }
        let mut wrong = bytes.clone();
        wrong[5] ^= 1;
        let e = decrypt(&wrong).unwrap_err();
        assert!(!e.contains("s3cr3t"), "{e}");
    }

    /// A file written by an independent implementation (Python `cryptography`'s AES-128-ECB, the
    /// script in tests/data/mylogin/README.md), as mysql_config_editor lays it out.
    #[test]
    fn reads_a_file_written_by_another_implementation() {
        let bytes = include_bytes!("../../tests/data/mylogin/mylogin.cnf");
        let text = decrypt(bytes).unwrap();
        assert_eq!(
            text,
            "[client]\nuser = \"localuser\"\npassword = \"p@ss word\"\n[remote]\nhost = \"db1.example.com\"\nport = 3307\n"
        );
    }

    #[test]
    fn path_follows_the_test_variable() {
        assert_eq!(
            path(Some(Path::new("/home/u")), None),
            Some(PathBuf::from("/home/u/.mylogin.cnf"))
        );
        assert_eq!(
            path(Some(Path::new("/home/u")), Some("/tmp/x.cnf")),
            Some(PathBuf::from("/tmp/x.cnf"))
        );
        assert_eq!(path(None, None), None);
    }
}
