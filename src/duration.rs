//! Durations as operators write them (`90s`, `15m`, `1h`, `1h30m`, `7d`, or plain seconds) and as
//! OpenBao answers them (integer seconds), so that the two compare equal.

/// Parses a duration string into seconds. Accepts Go-style sequences of number+unit
/// (`s`, `m`, `h`, `d`) and a bare number of seconds.
pub fn parse(text: &str) -> Result<u64, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("an empty duration".into());
    }
    if let Ok(n) = t.parse::<u64>() {
        return Ok(n);
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            _ => return Err(format!("unknown unit `{c}`")),
        };
        let n: u64 = digits
            .parse()
            .map_err(|_| format!("a unit `{c}` without a number before it"))?;
        digits.clear();
        total = total
            .checked_add(n.checked_mul(unit).ok_or("the duration is too large")?)
            .ok_or("the duration is too large")?;
    }
    if !digits.is_empty() {
        return Err("a number without a unit at the end".into());
    }
    Ok(total)
}

/// Whether a field of a server object holds a duration, by OpenBao's naming habits.
/// Deliberately name-based: the topology passes server fields through without a schema.
pub fn is_duration_field(field: &str) -> bool {
    let f = field.rsplit('.').next().unwrap_or(field);
    f.ends_with("_ttl")
        || f.ends_with("_period")
        || matches!(f, "ttl" | "period" | "lease" | "lease_max" | "max_ttl")
}

/// Seconds as a person writes them: `1h`, `15m`, `90s`, `1h30m`.
pub fn format(secs: u64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let mut rest = secs;
    for (unit, size) in [("h", 3600), ("m", 60), ("s", 1)] {
        if rest >= size {
            out.push_str(&format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_operators_write() {
        assert_eq!(parse("90s"), Ok(90));
        assert_eq!(parse("15m"), Ok(900));
        assert_eq!(parse("1h"), Ok(3600));
        assert_eq!(parse("24h"), Ok(86400));
        assert_eq!(parse("1h30m"), Ok(5400));
        assert_eq!(parse("3600"), Ok(3600));
        assert_eq!(parse("7d"), Ok(604800));
        assert!(parse("1x").is_err());
        assert!(parse("h").is_err());
        assert!(parse("10m5").is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn formats_back() {
        assert_eq!(format(3600), "1h");
        assert_eq!(format(5400), "1h30m");
        assert_eq!(format(86400), "24h");
        assert_eq!(format(90), "1m30s");
        assert_eq!(format(0), "0s");
    }
}
