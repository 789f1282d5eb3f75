//! Pure policy decisions, no I/O and no clock: every limit in one place ([`Limits`]), IP
//! allow and block lists in CIDR form ([`IpList`]), and whether to admit a new connection
//! before any handshake work ([`Admission`]). The server glue asks; these answer.

mod admission;
mod iplist;
mod limits;

pub use admission::{prefix_of, Admission, Verdict};
pub use iplist::{canonical, parse_net, IpList, ListError, Rule};
pub use limits::{Limits, RetryMode};
