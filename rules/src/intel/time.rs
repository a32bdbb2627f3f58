//! Timestamp parsing for feed metadata (no time zone database needed: feeds use
//! UTC or give an offset).

/// Days from 1970-01-01 to the given civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let d = i64::from(d);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn num(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn to_unix(y: u32, mo: u32, d: u32, h: u32, mi: u32, s: u32, offset: i64) -> Option<u64> {
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    if h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(i64::from(y), mo, d);
    let t = days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s) - offset;
    u64::try_from(t).ok()
}

/// Parses a feed timestamp into unix seconds. Accepts unix seconds (`1472541011`),
/// RFC 3339 (`2021-07-18T00:00:00.000Z`, `+02:00` offsets), `YYYY-MM-DD HH:MM[:SS]`,
/// `YYYY-MM-DD` and the US form abuse.ch uses (`12/22/2023 6:58`).
pub fn parse_timestamp(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.is_empty() || s.len() > 40 {
        return None;
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().ok();
    }
    if let Some((date, time)) = s.split_once(['T', 't', ' ']) {
        let (y, mo, d) = parse_date(date)?;
        let (h, mi, sec, off) = parse_time(time)?;
        return to_unix(y, mo, d, h, mi, sec, off);
    }
    let (y, mo, d) = parse_date(s)?;
    to_unix(y, mo, d, 0, 0, 0, 0)
}

fn parse_date(s: &str) -> Option<(u32, u32, u32)> {
    if let Some((y, rest)) = s.split_once('-') {
        let (mo, d) = rest.split_once('-')?;
        return Some((num(y)?, num(mo)?, num(d)?));
    }
    let mut it = s.split('/');
    let mo = num(it.next()?)?;
    let d = num(it.next()?)?;
    let y = num(it.next()?)?;
    if it.next().is_some() {
        return None;
    }
    Some((y, mo, d))
}

fn parse_time(s: &str) -> Option<(u32, u32, u32, i64)> {
    let (clock, offset) = if let Some(c) = s.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else if let Some(pos) = s.rfind(['+', '-']) {
        let (c, o) = s.split_at(pos);
        let sign = if o.starts_with('-') { -1 } else { 1 };
        let (oh, om) = o[1..].split_once(':').unwrap_or((&o[1..], "0"));
        (
            c,
            sign * (i64::from(num(oh)?) * 3600 + i64::from(num(om)?) * 60),
        )
    } else {
        (s, 0)
    };
    let mut it = clock.split(':');
    let h = num(it.next()?)?;
    let mi = num(it.next()?)?;
    let sec = match it.next() {
        Some(sec) => num(sec.split('.').next()?)?,
        None => 0,
    };
    if it.next().is_some() {
        return None;
    }
    Some((h, mi, sec, offset))
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("1472541011"), Some(1_472_541_011));
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_timestamp("2021-07-18T00:00:00.000Z"),
            Some(1_626_566_400)
        );
        assert_eq!(
            parse_timestamp("2021-07-18T02:00:00+02:00"),
            Some(1_626_566_400)
        );
        assert_eq!(parse_timestamp("2017-07-14 18:08:15"), Some(1_500_055_695));
        assert_eq!(parse_timestamp("12/22/2023 6:58"), Some(1_703_228_280));
        assert_eq!(parse_timestamp("2024-02-29"), Some(1_709_164_800));
        assert_eq!(parse_timestamp("2024-13-01"), None);
        assert_eq!(parse_timestamp("yesterday"), None);
        assert_eq!(parse_timestamp("99999999999999999999999"), None);
    }
}
