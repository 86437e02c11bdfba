//! CIDR networks for the OTP API caller's allowed network (rule 8): parsing and matching, IPv4 and
//! IPv6.
//!
//! Invariants: a network is stored with its host bits cleared; an IPv4-mapped IPv6 address
//! (`::ffff:a.b.c.d`) is matched as the IPv4 address it carries; IPv4 and IPv6 never match each
//! other otherwise.

use std::fmt;
use std::net::IpAddr;

/// One CIDR network, e.g. `10.0.0.0/8` or `2001:db8::/32`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Network {
    address: IpAddr,
    prefix: u8,
}

impl Network {
    /// Parses `ADDRESS/PREFIX`, or a bare address (a single host). Host bits are cleared.
    pub fn parse(text: &str) -> Result<Network, String> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address
            .parse()
            .map_err(|_| format!("{text:?} is not a network: {address:?} is not an IP address"))?;
        let width = match address {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        let prefix = match prefix {
            None => width,
            Some(digits) => match digits.parse::<u8>() {
                Ok(p) if p <= width && !digits.starts_with('+') => p,
                _ => {
                    return Err(format!(
                        "{text:?} is not a network: the prefix length must be 0 to {width}"
                    ));
                }
            },
        };
        Ok(Network {
            address: mask(address, prefix),
            prefix,
        })
    }

    /// Whether `address` lies inside this network.
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        match (self.address, address) {
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {
                mask(address, self.prefix) == self.address
            }
            _ => false,
        }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

/// A comma-separated list of networks; an address is allowed if any of them contains it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowedNetworks(Vec<Network>);

impl AllowedNetworks {
    pub fn parse(text: &str) -> Result<AllowedNetworks, String> {
        let networks = text
            .split(',')
            .map(Network::parse)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(AllowedNetworks(networks))
    }

    pub fn contains(&self, address: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(address))
    }
}

fn mask(address: IpAddr, prefix: u8) -> IpAddr {
    match address {
        IpAddr::V4(v4) => {
            let bits = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((u32::from(v4) & bits).into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((u128::from(v6) & bits).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn matching() {
        let cases = [
            ("127.0.0.1/32", "127.0.0.1", true),
            ("127.0.0.1/32", "127.0.0.2", false),
            ("127.0.0.1", "127.0.0.1", true),
            ("10.0.0.0/8", "10.255.1.2", true),
            ("10.0.0.0/8", "11.0.0.1", false),
            ("10.1.2.3/8", "10.9.9.9", true),
            ("192.168.1.0/24", "192.168.1.255", true),
            ("192.168.1.0/24", "192.168.2.0", false),
            ("0.0.0.0/0", "203.0.113.7", true),
            ("0.0.0.0/0", "::1", false),
            ("::1/128", "::1", true),
            ("::1/128", "::2", false),
            ("2001:db8::/32", "2001:db8:ffff::1", true),
            ("2001:db8::/32", "2001:db9::1", false),
            ("::/0", "fe80::1", true),
            ("127.0.0.1/32", "::ffff:127.0.0.1", true),
            ("10.0.0.0/31", "10.0.0.1", true),
            ("10.0.0.0/31", "10.0.0.2", false),
        ];
        for (network, address, expected) in cases {
            let parsed = Network::parse(network).unwrap();
            assert_eq!(
                parsed.contains(ip(address)),
                expected,
                "{network} {address}"
            );
        }
    }

    #[test]
    fn lists() {
        let allowed = AllowedNetworks::parse("127.0.0.1/32, 10.0.0.0/8").unwrap();
        assert!(allowed.contains(ip("10.2.3.4")));
        assert!(allowed.contains(ip("127.0.0.1")));
        assert!(!allowed.contains(ip("192.168.0.1")));
    }

    #[test]
    fn bad_networks() {
        for bad in [
            "",
            "/8",
            "10.0.0.0/",
            "10.0.0.0/33",
            "::/129",
            "10.0.0/8",
            "x/1",
            "10.0.0.0/+8",
            "10.0.0.0/-1",
            "10.0.0.0/8/8",
        ] {
            assert!(Network::parse(bad).is_err(), "{bad:?} parsed");
        }
        assert!(AllowedNetworks::parse("127.0.0.1/32,").is_err());
    }

    #[test]
    fn host_bits_are_cleared() {
        assert_eq!(
            Network::parse("10.1.2.3/8").unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert_eq!(
            Network::parse("2001:db8::1/32").unwrap().to_string(),
            "2001:db8::/32"
        );
    }
}
