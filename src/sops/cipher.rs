//! One SOPS value: parsing `ENC[AES256_GCM,data:,iv:,tag:,type:]` and opening it.
//!
//! SOPS encrypts every value on its own with AES-256-GCM under the file's data key, with a
//! 32-byte IV (Go's `NewGCMWithNonceSize`) and the value's map-key path as additional data, and
//! records the plaintext's type so `42` comes back as an integer. This module mirrors SOPS's
//! `aes/cipher.go`: the same parse (the same greedy regular expression, written out by hand), the
//! same type conversions, and the same byte forms for the MAC (`ToBytes`: booleans as
//! `True`/`False`, floats as Go's `FormatFloat(f, 'f', -1, 64)`).

use aes_gcm::aead::consts::{U12, U32};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::aes::Aes256;
use aes_gcm::{AesGcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use zeroize::{Zeroize, Zeroizing};

/// A parsed, still encrypted value.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct EncValue {
    pub data: Vec<u8>,
    pub iv: Vec<u8>,
    pub tag: Vec<u8>,
    pub ty: String,
}

const PREFIX: &str = "ENC[AES256_GCM,data:";

/// Parse `ENC[AES256_GCM,data:B64,iv:B64,tag:B64,type:T]` like SOPS's regular expression
/// `^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]` (greedy, `.` not matching a
/// newline, anything after the last `]` ignored). The error is a fixed reason: the input may be
/// a plaintext that was never encrypted, so it is never quoted.
pub(crate) fn parse(value: &str) -> Result<EncValue, &'static str> {
    let not_sops = "not in SOPS's ENC[AES256_GCM,...] format";
    let rest = value.strip_prefix(PREFIX).ok_or(not_sops)?;
    let line = rest.split('\n').next().unwrap_or_default();
    let end = line.rfind(']').ok_or(not_sops)?;
    let body = &line[..end];
    let (before_type, ty) = body.rsplit_once(",type:").ok_or(not_sops)?;
    let (before_tag, tag) = before_type.rsplit_once(",tag:").ok_or(not_sops)?;
    let (data, iv) = before_tag.rsplit_once(",iv:").ok_or(not_sops)?;
    if data.is_empty() || iv.is_empty() || tag.is_empty() || ty.is_empty() {
        return Err(not_sops);
    }
    Ok(EncValue {
        data: STANDARD
            .decode(data)
            .map_err(|_| "its data is not valid base64")?,
        iv: STANDARD
            .decode(iv)
            .map_err(|_| "its iv is not valid base64")?,
        tag: STANDARD
            .decode(tag)
            .map_err(|_| "its tag is not valid base64")?,
        ty: ty.to_owned(),
    })
}

/// Why a value did not open.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum OpenError {
    /// The ciphertext, IV, tag or additional data was changed, or the key is wrong.
    Authentication,
    /// The value is structurally unusable (fixed reason, no content).
    Malformed(&'static str),
}

/// AES-256-GCM open of `data || tag` with `iv` and `aad`, as Go's GCM `Open` does.
pub(crate) fn open(
    key: &[u8; 32],
    enc: &EncValue,
    aad: &[u8],
) -> Result<Zeroizing<Vec<u8>>, OpenError> {
    let mut sealed = Vec::with_capacity(enc.data.len() + enc.tag.len());
    sealed.extend_from_slice(&enc.data);
    sealed.extend_from_slice(&enc.tag);
    if sealed.len() < 16 {
        return Err(OpenError::Malformed("ciphertext and tag are too short"));
    }
    let payload = Payload { msg: &sealed, aad };
    let plain = match enc.iv.len() {
        32 => AesGcm::<Aes256, U32>::new(key.into())
            .decrypt(Nonce::<U32>::from_slice(&enc.iv), payload),
        12 => AesGcm::<Aes256, U12>::new(key.into())
            .decrypt(Nonce::<U12>::from_slice(&enc.iv), payload),
        _ => {
            return Err(OpenError::Malformed(
                "its IV is neither 32 nor 12 bytes long",
            ));
        }
    };
    plain
        .map(Zeroizing::new)
        .map_err(|_| OpenError::Authentication)
}

/// A decrypted leaf, typed as SOPS types it.
pub(crate) enum Plaintext {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Bytes(Vec<u8>),
    Comment(String),
}

impl Drop for Plaintext {
    fn drop(&mut self) {
        match self {
            Plaintext::Str(s) | Plaintext::Comment(s) => s.zeroize(),
            Plaintext::Int(i) => i.zeroize(),
            Plaintext::Float(f) => f.zeroize(),
            Plaintext::Bool(b) => b.zeroize(),
            Plaintext::Bytes(b) => b.zeroize(),
        }
    }
}

/// Convert opened bytes by the value's `type:` as SOPS does (`strconv.Atoi`, `ParseFloat`,
/// `ParseBool`). Errors are fixed reasons that never quote the plaintext.
pub(crate) fn typed(ty: &str, bytes: &[u8]) -> Result<Plaintext, &'static str> {
    let text = || std::str::from_utf8(bytes).map_err(|_| "the decrypted value is not UTF-8");
    Ok(match ty {
        "str" => Plaintext::Str(text()?.to_owned()),
        "comment" => Plaintext::Comment(text()?.to_owned()),
        "int" | "int64" => Plaintext::Int(
            text()?
                .parse::<i64>()
                .map_err(|_| "the decrypted value of type int is not an integer")?,
        ),
        "float" => Plaintext::Float(
            parse_go_float(text()?).ok_or("the decrypted value of type float is not a number")?,
        ),
        "bool" => Plaintext::Bool(
            parse_go_bool(text()?).ok_or("the decrypted value of type bool is not a boolean")?,
        ),
        "bytes" => Plaintext::Bytes(bytes.to_vec()),
        _ => return Err("unknown value type (expected str, int, float, bool, bytes or comment)"),
    })
}

fn parse_go_float(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "+inf" => Some(f64::INFINITY),
        _ => s.parse::<f64>().ok(),
    }
}

/// Go's `strconv.ParseBool`.
pub(crate) fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`: the shortest digits that round-trip, never an
/// exponent. Rust's `Display` for `f64` is exactly that, except for the infinities.
pub(crate) fn go_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".to_owned()
    } else if f == f64::INFINITY {
        "+Inf".to_owned()
    } else if f == f64::NEG_INFINITY {
        "-Inf".to_owned()
    } else {
        format!("{f}")
    }
}

/// SOPS's `ToBytes` for booleans.
pub(crate) fn go_bool_mac(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seal(key: &[u8; 32], iv: &[u8; 32], plain: &[u8], aad: &[u8], ty: &str) -> String {
        let cipher = AesGcm::<Aes256, U32>::new(key.into());
        let out = cipher
            .encrypt(Nonce::<U32>::from_slice(iv), Payload { msg: plain, aad })
            .unwrap();
        let (data, tag) = out.split_at(out.len() - 16);
        format!(
            "ENC[AES256_GCM,data:{},iv:{},tag:{},type:{ty}]",
            STANDARD.encode(data),
            STANDARD.encode(iv),
            STANDARD.encode(tag)
        )
    }

    #[test]
    fn round_trip_and_additional_data() {
        let key = [7u8; 32];
        let iv = [9u8; 32];
        let v = seal(&key, &iv, b"hunter2", b"db:password:", "str");
        let enc = parse(&v).unwrap();
        assert_eq!(enc.ty, "str");
        assert_eq!(enc.iv.len(), 32);
        assert_eq!(&*open(&key, &enc, b"db:password:").unwrap(), b"hunter2");
        assert_eq!(
            open(&key, &enc, b"db:user:").unwrap_err(),
            OpenError::Authentication
        );
        assert_eq!(
            open(&[8u8; 32], &enc, b"db:password:").unwrap_err(),
            OpenError::Authentication
        );
    }

    #[test]
    fn parse_rejects_without_quoting() {
        for bad in [
            "",
            "plain",
            "ENC[AES256_GCM,data:,iv:,tag:,type:]",
            "ENC[AES256_GCM,data:@@,iv:AA==,tag:AA==,type:str]",
            "ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(!e.contains("plain"));
        }
    }

    #[test]
    fn types_convert_like_go() {
        assert!(matches!(typed("int", b"-42"), Ok(Plaintext::Int(-42))));
        assert!(matches!(typed("bool", b"True"), Ok(Plaintext::Bool(true))));
        assert!(matches!(
            typed("bool", b"false"),
            Ok(Plaintext::Bool(false))
        ));
        assert!(typed("bool", b"yes").is_err());
        assert!(matches!(typed("float", b"3.5"), Ok(Plaintext::Float(f)) if f == 3.5));
        assert!(typed("weird", b"x").is_err());
        assert_eq!(go_float(3.0), "3");
        assert_eq!(go_float(0.1), "0.1");
        assert_eq!(go_float(1e21), "1000000000000000000000");
        assert_eq!(go_float(-0.0), "-0");
        assert_eq!(go_float(f64::INFINITY), "+Inf");
    }
}
