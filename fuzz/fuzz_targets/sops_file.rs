//! Fuzz the whole SOPS file path (YAML or JSON parse, metadata, value parsing, AES-GCM, MAC)
//! with a fixed data key: no input may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let name = if first & 1 == 0 { "f.yaml" } else { "f.json" };
    if let Ok(s) = std::str::from_utf8(rest) {
        let _ = aegisctl::sops::fuzzing::parse_and_decrypt(name, s);
    }
});
