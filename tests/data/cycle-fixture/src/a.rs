//! Fixture: the half of the cycle written as a `use` line.
use crate::b::Thing;

/// Named from `b.rs` through the crate root's re-export.
pub fn helper() -> Thing {
    Thing
}
