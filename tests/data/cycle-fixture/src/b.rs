//! Fixture: the half of the cycle written inline, through a re-export.
pub struct Thing;

// crate::a::helper in a comment is not an edge, nor is "crate::a::helper" in a string.
pub fn make() -> Thing {
    let _ = "crate::a::helper";
    crate::helper()
}
