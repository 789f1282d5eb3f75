//! An address literal, for the tests of policy's parts (a file of its own, so the parts'
//! tests need nothing from `policy/mod.rs`).

pub(crate) fn ip(s: &str) -> std::net::IpAddr {
    s.parse().expect("ip")
}
