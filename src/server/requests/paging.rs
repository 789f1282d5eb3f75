//! How many items of a listing fit one reply frame: pages are cut by their encoded size,
//! never by a count alone.

use crate::wire::MAX_FRAME;

/// Frame budget for pages: leave room for the envelope around the items.
const PAGE_BUDGET: usize = MAX_FRAME / 2;

/// How many leading items fit the page budget (at least one).
pub(super) fn fit_page<T: serde::Serialize>(items: &[T]) -> usize {
    fit_within(items, PAGE_BUDGET, 0)
}

/// How many leading items fit `budget` bytes, each taking `extra` bytes besides its own
/// encoding (at least one).
pub(super) fn fit_within<T: serde::Serialize>(items: &[T], budget: usize, extra: usize) -> usize {
    let mut used = 0usize;
    for (i, item) in items.iter().enumerate() {
        used += postcard::to_stdvec(item).map(|v| v.len()).unwrap_or(budget) + extra;
        if used > budget {
            return i.max(1);
        }
    }
    items.len()
}
