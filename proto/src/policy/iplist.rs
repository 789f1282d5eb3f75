//! IP allow and block lists in CIDR form. File format, one rule per line:
//! `allow 127.0.0.0/8`, `block 203.0.113.7` (a bare address is a /32 or /128), `#` comments.
//! The most specific matching rule wins; at equal length, `allow` wins.

use std::net::IpAddr;

use ipnet::IpNet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    Allow,
    Block,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ListError {
    pub line: usize,
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpList {
    rules: Vec<(IpNet, Rule)>,
}

/// A network that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an IP address or CIDR network")]
pub struct NetError(pub String);

/// Parse `203.0.113.0/24` or `203.0.113.7` into a network.
pub fn parse_net(s: &str) -> Result<IpNet, NetError> {
    if let Ok(net) = s.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    s.parse::<IpAddr>().map(IpNet::from).map_err(|_| NetError(s.to_owned()))
}

impl IpList {
    pub fn parse(text: &str) -> Result<Self, ListError> {
        let mut list = IpList::default();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let err = |message: String| ListError { line: i + 1, message };
            let mut words = line.split_whitespace();
            let rule = match words.next() {
                Some("allow") => Rule::Allow,
                Some("block") => Rule::Block,
                Some(other) => return Err(err(format!("expected allow or block, found {other:?}"))),
                None => continue,
            };
            let net = parse_net(words.next().ok_or_else(|| err("missing network".into()))?)
                .map_err(|e| err(e.to_string()))?;
            if words.next().is_some() {
                return Err(err("one network per line".into()));
            }
            list.set(net, rule);
        }
        Ok(list)
    }

    /// Add or replace the rule for exactly `net`.
    pub fn set(&mut self, net: IpNet, rule: Rule) {
        self.remove(&net);
        self.rules.push((net, rule));
    }

    /// Remove the rule for exactly `net`; true if there was one.
    pub fn remove(&mut self, net: &IpNet) -> bool {
        let before = self.rules.len();
        self.rules.retain(|(n, _)| n != net);
        self.rules.len() != before
    }

    /// The rule that applies to `ip`, if any.
    pub fn lookup(&self, ip: IpAddr) -> Option<Rule> {
        let ip = canonical(ip);
        self.rules
            .iter()
            .filter(|(net, _)| net.contains(&ip))
            .max_by_key(|(net, rule)| (net.prefix_len(), *rule == Rule::Allow))
            .map(|(_, rule)| *rule)
    }

    pub fn rules(&self) -> &[(IpNet, Rule)] {
        &self.rules
    }

    /// The file form of the list.
    pub fn to_text(&self) -> String {
        let mut out = String::from("# qxfer IP rules: `allow CIDR` or `block CIDR`; most specific wins\n");
        for (net, rule) in &self.rules {
            let word = if *rule == Rule::Allow { "allow" } else { "block" };
            out.push_str(&format!("{word} {net}\n"));
        }
        out
    }
}

/// IPv4-mapped IPv6 addresses are treated as the IPv4 address they carry.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::test_ip::ip;

    #[test]
    fn most_specific_rule_wins() {
        let list =
            IpList::parse("block 10.0.0.0/8\nallow 10.1.0.0/16 # office\nblock 10.1.2.3\n\n# done\n").expect("parse");
        assert_eq!(list.lookup(ip("10.9.9.9")), Some(Rule::Block));
        assert_eq!(list.lookup(ip("10.1.9.9")), Some(Rule::Allow));
        assert_eq!(list.lookup(ip("10.1.2.3")), Some(Rule::Block));
        assert_eq!(list.lookup(ip("::ffff:10.1.2.3")), Some(Rule::Block));
        assert_eq!(list.lookup(ip("192.0.2.1")), None);
        assert_eq!(IpList::parse(&list.to_text()).expect("round trip"), list);
    }

    #[test]
    fn bad_lines_name_their_number() {
        let e = IpList::parse("allow 1.2.3.4\ndeny 5.6.7.8\n").expect_err("bad verb");
        assert_eq!(e.line, 2);
        assert!(IpList::parse("block 300.1.1.1").is_err());
        assert!(IpList::parse("block 1.2.3.4 5.6.7.8").is_err());
    }
}
