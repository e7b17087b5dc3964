//! `host[:port]` and `[IPv6]:port`: the one splitter and the one port parser behind both URLs
//! (`connect::url`) and targets (`--targets` lines, `--url host:port`), so that they agree on
//! what a port is (digits only, 1-65535: `+1041` is no port in either).

/// Why `host[:port]` could not be split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitError {
    /// `[` without its `]`.
    Unterminated,
    /// Something other than `:port` after `]`.
    AfterBracket,
    /// More than one `:` outside brackets (a bare IPv6 address, or garbage).
    ManyColons,
}

/// Split `host[:port]` or `[addr][:port]` into the host (without brackets), the port text and
/// whether the host was bracketed. Nothing is decoded or validated beyond the shape.
pub fn split(t: &str) -> Result<(&str, Option<&str>, bool), SplitError> {
    if let Some(inner) = t.strip_prefix('[') {
        let (addr, after) = inner.split_once(']').ok_or(SplitError::Unterminated)?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or(SplitError::AfterBracket)?),
        };
        return Ok((addr, port, true));
    }
    match t.split_once(':') {
        None => Ok((t, None, false)),
        Some((h, p)) if !p.contains(':') => Ok((h, Some(p), false)),
        Some(_) => Err(SplitError::ManyColons),
    }
}

/// Why a port is not one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortError {
    Empty,
    /// Anything but ASCII digits (a sign, a space, letters).
    NotDigits,
    /// 0 or above 65535.
    OutOfRange,
}

/// A TCP port: ASCII digits only, 1-65535.
pub fn port(text: &str) -> Result<u16, PortError> {
    if text.is_empty() {
        return Err(PortError::Empty);
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PortError::NotDigits);
    }
    match text.parse::<u16>() {
        Ok(p) if p != 0 => Ok(p),
        _ => Err(PortError::OutOfRange),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(split("db1"), Ok(("db1", None, false)));
        assert_eq!(split("db1:3306"), Ok(("db1", Some("3306"), false)));
        assert_eq!(split("[::1]:3306"), Ok(("::1", Some("3306"), true)));
        assert_eq!(split("[::1]"), Ok(("::1", None, true)));
        assert_eq!(split("[::1"), Err(SplitError::Unterminated));
        assert_eq!(split("[::1]x"), Err(SplitError::AfterBracket));
        assert_eq!(split("::1"), Err(SplitError::ManyColons));
    }

    #[test]
    fn ports_are_digits_only() {
        assert_eq!(port("3306"), Ok(3306));
        assert_eq!(port("+1041"), Err(PortError::NotDigits));
        assert_eq!(port(" 1041"), Err(PortError::NotDigits));
        assert_eq!(port(""), Err(PortError::Empty));
        assert_eq!(port("0"), Err(PortError::OutOfRange));
        assert_eq!(port("65536"), Err(PortError::OutOfRange));
    }
}
