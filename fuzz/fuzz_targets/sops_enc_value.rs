//! Fuzz SOPS's `ENC[AES256_GCM,...]` value parser: it reads attacker-controlled file content and
//! must reject anything malformed without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = aegisctl::sops::fuzzing::parse_enc_value(s);
    }
});
