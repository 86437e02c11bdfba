//! Checks of single values that the model does not already own: network ranges, privilege tokens
//! with suggestions, and the OTP API user IDs an import may name.
//!
//! Invariant: pure functions over strings; identifier rules themselves live in `crate::model`.

use std::net::IpAddr;

use crate::model::{Privilege, check_plain_id};

use super::suggest;

/// Validates an IPv4 or IPv6 network written `address/prefix` (or a bare address, meaning the
/// single host) and returns it normalised to `address/prefix` with the address in canonical form.
pub(crate) fn normalize_network(text: &str) -> Result<String, String> {
    let (address, prefix) = match text.split_once('/') {
        Some((address, prefix)) => (address, Some(prefix)),
        None => (text, None),
    };
    let ip: IpAddr = address
        .parse()
        .map_err(|_| format!("{address:?} is not an IPv4 or IPv6 address"))?;
    let max = match ip {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    };
    let prefix = match prefix {
        None => max,
        Some(digits) => {
            if digits.is_empty() || digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(format!(
                    "prefix length {digits:?} is not a number from 0 to {max}"
                ));
            }
            let value: u32 = digits
                .parse()
                .map_err(|_| format!("prefix length {digits:?} is not a number from 0 to {max}"))?;
            if value > max {
                return Err(format!(
                    "prefix length {value} is out of range for an {} address (0 to {max})",
                    if max == 32 { "IPv4" } else { "IPv6" }
                ));
            }
            value
        }
    };
    Ok(format!("{ip}/{prefix}"))
}

/// A privilege token, or a help line suggesting the nearest token.
pub(crate) fn parse_privilege(token: &str) -> Result<Privilege, String> {
    Privilege::from_token(token).ok_or_else(|| {
        let tokens = Privilege::ALL.map(Privilege::token);
        match suggest::nearest(token, tokens) {
            Some(near) => format!("did you mean {near:?}?"),
            None => suggest::one_of(tokens),
        }
    })
}

/// The prefix of an OTP API user's vault account name.
pub(crate) const PAM_UTIL_PREFIX: &str = "PAM_UTIL_";

/// The GUID of an imported OTP API user, given either as the GUID or as `PAM_UTIL_<guid>`.
pub(crate) fn otp_guid(id: &str) -> Result<&str, String> {
    let guid = id.strip_prefix(PAM_UTIL_PREFIX).unwrap_or(id);
    check_plain_id(guid).map_err(|e| {
        format!("the GUID of an OTP API user {e} (expected the GUID or \"PAM_UTIL_<guid>\")")
    })?;
    Ok(guid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks() {
        let good = [
            ("10.20.0.0/24", "10.20.0.0/24"),
            ("127.0.0.1/32", "127.0.0.1/32"),
            ("0.0.0.0/0", "0.0.0.0/0"),
            ("10.0.0.1", "10.0.0.1/32"),
            ("::1", "::1/128"),
            ("2001:DB8:0:0::/32", "2001:db8::/32"),
            ("fe80::/10", "fe80::/10"),
            ("10.0.0.0/008", "10.0.0.0/8"),
        ];
        for (text, expected) in good {
            assert_eq!(normalize_network(text).as_deref(), Ok(expected), "{text:?}");
        }
        let bad = [
            "",
            "/24",
            "10.0.0.0/",
            "10.0.0.0/33",
            "::/129",
            "10.0.0/24",
            "10.0.0.0/+8",
            "10.0.0.0/-1",
            "10.0.0.0/24/1",
            "10.0.0.0/ 8",
            "host.example/24",
            "10.0.0.0/9999",
        ];
        for text in bad {
            assert!(normalize_network(text).is_err(), "{text:?} accepted");
        }
    }

    #[test]
    fn privileges() {
        assert_eq!(parse_privilege("OTP_Trustees"), Ok(Privilege::OtpTrustees));
        assert_eq!(
            parse_privilege("otp_trustees"),
            Err("did you mean \"OTP_Trustees\"?".to_owned())
        );
        assert_eq!(
            parse_privilege("Auto-Approved"),
            Err("did you mean \"Auto_Approved\"?".to_owned())
        );
        let far = parse_privilege("Root").unwrap_err();
        assert!(far.starts_with("expected one of: Approvers, "), "{far}");
    }

    #[test]
    fn guids() {
        assert_eq!(otp_guid("PAM_UTIL_0a1b-2c"), Ok("0a1b-2c"));
        assert_eq!(otp_guid("0a1b-2c"), Ok("0a1b-2c"));
        assert!(otp_guid("PAM_UTIL_").is_err());
        assert!(otp_guid("").is_err());
        assert!(otp_guid("a b").is_err());
    }
}
