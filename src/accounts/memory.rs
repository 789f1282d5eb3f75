//! The memory password hashes run in: a fixed pool of argon2 buffers (19 MiB each), made
//! on first use, at most [`set_size`] of them, and reused by every hash after; never given
//! back to the allocator. The allocator would keep freed buffers anyway (glibc holds them in
//! its per-thread arenas: 600 logins once left a listener at 824 MB), so the pool is what
//! makes `max_concurrent_hashes × 19 MiB` the whole cost of hashing, after any number of
//! logins.
//!
//! The listener's hash slots already let at most `max_concurrent_hashes` hashes run at once;
//! a hash that finds every buffer in use (its slot's connection closed while its hash ran
//! on) waits for one, at most [`BUFFER_WAIT`], then hashes in a buffer of its own, freed
//! after (logged: it is not expected).

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use argon2::Block;

/// How long a hash waits for a pooled buffer before it makes a temporary one.
pub const BUFFER_WAIT: Duration = Duration::from_secs(30);

/// Buffers a process without [`set_size`] keeps (the command line's own hashes).
const DEFAULT_SIZE: usize = 1;

struct State {
    /// Buffers the pool may hold.
    size: usize,
    /// Buffers made and not dropped (in use or free).
    made: usize,
    free: Vec<Box<[Block]>>,
}

struct Pool {
    state: Mutex<State>,
    returned: Condvar,
}

static POOL: Pool =
    Pool { state: Mutex::new(State { size: DEFAULT_SIZE, made: 0, free: Vec::new() }), returned: Condvar::new() };

fn lock() -> MutexGuard<'static, State> {
    POOL.state.lock().unwrap_or_else(|p| p.into_inner())
}

/// How many buffers the pool holds at most (the listener's `max_concurrent_hashes`). A
/// smaller size drops free buffers past it.
pub fn set_size(buffers: usize) {
    let mut s = lock();
    s.size = buffers.max(1);
    while s.made > s.size {
        if s.free.pop().is_none() {
            break;
        }
        s.made -= 1;
    }
}

/// Buffers made now (for the tests of the bound).
pub fn made() -> usize {
    lock().made
}

/// Where one hash gets its buffer.
enum Taken {
    Pooled(Box<[Block]>),
    Make,
    Temporary,
}

fn take() -> Taken {
    let mut s = lock();
    let deadline = std::time::Instant::now() + BUFFER_WAIT;
    loop {
        if let Some(b) = s.free.pop() {
            return Taken::Pooled(b);
        }
        if s.made < s.size {
            s.made += 1;
            return Taken::Make;
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Taken::Temporary;
        }
        s = POOL.returned.wait_timeout(s, left).unwrap_or_else(|p| p.into_inner()).0;
    }
}

fn give_back(b: Box<[Block]>) {
    let mut s = lock();
    if s.made > s.size {
        s.made -= 1;
    } else {
        s.free.push(b);
    }
    drop(s);
    POOL.returned.notify_one();
}

/// Run `f` in a buffer of at least `blocks` argon2 blocks: a pooled one (`blocks` at most
/// [`BLOCKS`]), or, past the pool, one of its own.
pub fn with_buffer<R>(blocks: usize, f: impl FnOnce(&mut [Block]) -> R) -> R {
    if blocks > BLOCKS {
        tracing::warn!(event = "hash_memory", blocks, "a stored hash asks for more memory than the pool's buffers");
        return f(&mut new_buffer(blocks));
    }
    let mut buffer = match take() {
        Taken::Pooled(b) => b,
        Taken::Make => new_buffer(BLOCKS),
        Taken::Temporary => {
            tracing::warn!(event = "hash_memory", "every pooled hash buffer stayed in use; hashing in a temporary one");
            return f(&mut new_buffer(blocks));
        }
    };
    let out = f(&mut buffer[..blocks]);
    give_back(buffer);
    out
}

/// The argon2id memory cost, in KiB (OWASP password storage cheat sheet: 19 MiB).
pub const M_COST_KIB: u32 = 19 * 1024;
/// Blocks in one pooled buffer: the whole memory cost (a block is 1 KiB).
pub const BLOCKS: usize = M_COST_KIB as usize;

fn new_buffer(blocks: usize) -> Box<[Block]> {
    vec![Block::new(); blocks].into_boxed_slice()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_reused_and_never_more_than_the_size() {
        set_size(2);
        let threads: Vec<_> = (0..8)
            .map(|_| {
                std::thread::spawn(|| {
                    for _ in 0..4 {
                        with_buffer(64, |b| b[0] = Block::new());
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        assert!(made() <= 2, "{} buffers", made());
    }
}
