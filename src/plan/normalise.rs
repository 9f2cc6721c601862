//! When a declared value and the server's answer mean the same thing.
//!
//! The server answers in its own canonical form: durations as integer seconds, `10.0.0.1/32` as
//! `10.0.0.1`, IPv6 addresses in lower case with zeros compressed, lists given as comma strings
//! as arrays, PEM blocks with or without a final newline. A value that means the same must
//! compare equal, or a converged topology plans a change forever. The field's type comes from
//! OpenBao's own schema where it publishes one ([`FieldType`]); a field without one (a plugin's
//! pass-through settings) is compared by the shape of its values, never by its name.

use std::net::IpAddr;

use serde_json::Value;

use crate::backends::openbao::schema::FieldType;
use crate::backends::spec::KindSpec;
use crate::duration;

/// Whether a list field is ordered (SQL statements and argument lists are; policies, CIDRs,
/// roles are sets).
pub fn ordered_list(field: &str) -> bool {
    field.contains("statements") || field.ends_with("_args") || field == "args"
}

fn as_seconds(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => match s.strip_prefix('-') {
            Some(rest) => duration::parse(rest).ok().map(|n| -(n as i64)),
            None => duration::parse(s).ok().map(|n| n as i64),
        },
        _ => None,
    }
}

/// A duration written with a unit (`90s`, `1h30m`), as opposed to a plain number.
fn has_unit(v: &Value) -> bool {
    matches!(v, Value::String(s) if s.chars().any(|c| c.is_ascii_alphabetic()) && as_seconds(v).is_some())
}

/// An IP address or CIDR in the server's canonical form: a full-length prefix dropped, IPv6
/// lower-cased and compressed. `None` when the text is neither.
pub fn canonical_ip(text: &str) -> Option<String> {
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p.parse::<u8>().ok()?)),
        None => (text, None),
    };
    let ip: IpAddr = addr.parse().ok()?;
    let full = if ip.is_ipv4() { 32 } else { 128 };
    Some(match prefix {
        Some(p) if p > full => return None,
        Some(p) if p != full => format!("{ip}/{p}"),
        _ => ip.to_string(),
    })
}

fn is_pem(s: &str) -> bool {
    s.contains("-----BEGIN ")
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A value with the server's canonical forms applied to its texts.
fn canonical(v: &Value) -> Value {
    match v {
        Value::String(s) => {
            if let Some(ip) = canonical_ip(s.trim()) {
                Value::String(ip)
            } else if is_pem(s) {
                Value::String(s.replace("\r\n", "\n").trim_end().to_owned())
            } else {
                v.clone()
            }
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// Whether a declared value equals the live one. `exact`: opaque data, compared with its JSON
/// types; otherwise per the field's type.
pub fn equal(
    exact: bool,
    ty: Option<FieldType>,
    field: &str,
    desired: &Value,
    live: &Value,
) -> bool {
    equal_in(
        &crate::backends::spec::OPENBAO,
        exact,
        ty,
        field,
        desired,
        live,
    )
}

/// [`equal`] under a kind's own field rules (which lists keep their order).
pub fn equal_in(
    spec: &KindSpec,
    exact: bool,
    ty: Option<FieldType>,
    field: &str,
    desired: &Value,
    live: &Value,
) -> bool {
    if exact {
        return desired == live;
    }
    if desired == live {
        return true;
    }
    let (desired, live) = (&canonical(desired), &canonical(live));
    if desired == live {
        return true;
    }
    match ty {
        Some(FieldType::Duration) => {
            if let (Some(a), Some(b)) = (as_seconds(desired), as_seconds(live)) {
                return a == b;
            }
        }
        None if has_unit(desired) || has_unit(live) => {
            if let (Some(a), Some(b)) = (as_seconds(desired), as_seconds(live)) {
                return a == b;
            }
        }
        _ => {}
    }
    match (desired, live) {
        (Value::String(s), Value::Array(_)) => {
            let parts: Vec<Value> = s
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| canonical(&Value::String(p.to_owned())))
                .collect();
            equal_in(spec, false, ty, field, &Value::Array(parts), live)
        }
        (Value::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                return false;
            }
            if spec.ordered.has(field) {
                return a
                    .iter()
                    .zip(b)
                    .all(|(x, y)| equal_in(spec, false, None, field, x, y));
            }
            let mut x: Vec<String> = a.iter().map(scalar_text).collect();
            let mut y: Vec<String> = b.iter().map(scalar_text).collect();
            x.sort();
            y.sort();
            x == y
        }
        (Value::Object(a), Value::Object(b)) => a.iter().all(|(k, v)| {
            b.get(k)
                .is_some_and(|lv| equal_in(spec, false, None, k, v, lv))
        }),
        (Value::Number(_) | Value::Bool(_), Value::String(_))
        | (Value::String(_), Value::Number(_) | Value::Bool(_)) => {
            scalar_text(desired) == scalar_text(live)
        }
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => false,
    }
}

/// A live value as people read it: durations as `1h` rather than `3600`.
pub fn display(ty: Option<FieldType>, v: &Value) -> Value {
    if ty == Some(FieldType::Duration)
        && let Some(n) = v.as_u64()
    {
        return Value::String(duration::format(n));
    }
    v.clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const D: Option<FieldType> = Some(FieldType::Duration);
    const L: Option<FieldType> = Some(FieldType::List);

    #[test]
    fn server_forms_compare_equal() {
        assert!(equal(false, D, "token_ttl", &json!("1h"), &json!(3600)));
        assert!(!equal(false, D, "token_ttl", &json!("1h"), &json!(1800)));
        assert!(equal(
            false,
            D,
            "clock_skew_leeway",
            &json!("-1"),
            &json!(-1)
        ));
        assert!(equal(
            false,
            D,
            "delete_version_after",
            &json!("768h"),
            &json!("768h0m0s")
        ));
        // Untyped: a duration with a unit against seconds.
        assert!(equal(
            false,
            None,
            "max_connection_lifetime",
            &json!("1m"),
            &json!(60)
        ));
        assert!(equal(
            false,
            L,
            "token_policies",
            &json!(["b", "a"]),
            &json!(["a", "b"])
        ));
        assert!(equal(
            false,
            L,
            "token_policies",
            &json!("a, b"),
            &json!(["b", "a"])
        ));
        assert!(!equal(
            false,
            L,
            "creation_statements",
            &json!(["b", "a"]),
            &json!(["a", "b"])
        ));
        assert!(equal(
            false,
            None,
            "secret_id_num_uses",
            &json!(1),
            &json!("1")
        ));
        assert!(equal(
            false,
            None,
            "x",
            &json!({"a": 1}),
            &json!({"a": 1, "b": 2})
        ));
    }

    #[test]
    fn addresses_and_pem() {
        assert!(equal(
            false,
            L,
            "token_bound_cidrs",
            &json!(["10.0.0.1/32", "2001:DB8::1/128", "10.1.0.0/16"]),
            &json!(["10.0.0.1", "2001:db8::1", "10.1.0.0/16"])
        ));
        assert!(equal(
            false,
            L,
            "secret_id_bound_cidrs",
            &json!(["10.0.0.2"]),
            &json!(["10.0.0.2/32"])
        ));
        assert!(equal(
            false,
            None,
            "cidr",
            &json!("2001:0DB8:0:0::1"),
            &json!("2001:db8::1")
        ));
        assert!(!equal(
            false,
            None,
            "cidr",
            &json!("10.0.0.1/24"),
            &json!("10.0.0.1")
        ));
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
        assert!(equal(
            false,
            None,
            "jwks_ca_pem",
            &json!(format!("{pem}\n")),
            &json!(pem)
        ));
        assert!(equal(
            false,
            L,
            "jwt_validation_pubkeys",
            &json!([pem]),
            &json!([format!("{pem}\r\n")])
        ));
        assert_eq!(canonical_ip("not an ip"), None);
        assert_eq!(canonical_ip("10.0.0.0/33"), None);
    }

    #[test]
    fn exact_types_for_opaque_data() {
        assert!(!equal(true, None, "port", &json!(42), &json!("42")));
        assert!(!equal(true, None, "on", &json!(true), &json!("true")));
        assert!(!equal(
            true,
            None,
            "o",
            &json!({"a": 1}),
            &json!("{\"a\":1}")
        ));
        assert!(equal(
            true,
            None,
            "o",
            &json!({"a": [1, "x"]}),
            &json!({"a": [1, "x"]})
        ));
    }
}
