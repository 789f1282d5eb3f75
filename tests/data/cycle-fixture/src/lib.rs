//! Fixture: a crate whose `a.rs` and `b.rs` import each other.
mod a;
mod b;

pub use a::helper;
