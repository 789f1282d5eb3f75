//! The reason text of the one close a banned address is sent (close code
//! `BANNED`): `banned SECS NET`, parsed back by the client into its own words, so nothing a
//! listener writes reaches the user's terminal as it is.

use ipnet::IpNet;

/// A ban, as the listener tells the banned client once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BanNotice {
    /// Seconds until the ban ends.
    pub secs: u64,
    /// The banned network (an address or a whole /24 or /64).
    pub net: IpNet,
}

impl BanNotice {
    pub fn encode(&self) -> String {
        format!("banned {} {}", self.secs, self.net)
    }

    /// Strict: exactly the form [`Self::encode`] writes, else `None`.
    pub fn parse(text: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(text).ok()?;
        let mut parts = text.split(' ');
        if parts.next()? != "banned" {
            return None;
        }
        let secs = parts.next()?.parse().ok()?;
        let net = parts.next()?.parse().ok()?;
        if parts.next().is_some() {
            return None;
        }
        Some(Self { secs, net })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_strictness() {
        let n = BanNotice { secs: 599, net: "192.0.2.7/32".parse().expect("net") };
        assert_eq!(BanNotice::parse(n.encode().as_bytes()), Some(n));
        for bad in
            ["", "banned", "banned x 1.2.3.4/32", "banned 5 1.2.3.4/32 extra", "banned 5 \x1b[2J", "Banned 5 ::1/128"]
        {
            assert_eq!(BanNotice::parse(bad.as_bytes()), None, "{bad:?}");
        }
    }
}
