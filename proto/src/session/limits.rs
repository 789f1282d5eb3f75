//! What a session counts against: the caps the listener's configuration fills
//! ([`SessionLimits`]) and the fixed allowances of a connection before login.

/// Caps a session enforces; the listener's configuration fills them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// Login attempts per connection before it is closed.
    pub max_login_attempts: u32,
    /// Largest total size of one delivery.
    pub max_delivery_bytes: u64,
    /// Upload streams in flight at once.
    pub max_puts_in_flight: u32,
    /// Bytes one connection may declare for upload, all deliveries together.
    pub max_connection_bytes: u64,
    /// Bytes of file names one delivery may declare, all together.
    pub max_delivery_path_bytes: u64,
}

impl Default for SessionLimits {
    fn default() -> Self {
        Self {
            max_login_attempts: 3,
            max_delivery_bytes: 1 << 40,
            max_puts_in_flight: 128,
            max_connection_bytes: 1 << 40,
            max_delivery_path_bytes: 16 << 20,
        }
    }
}

/// Challenges one connection may ask for before login (a person needs one, perhaps a
/// second to read a clearer picture).
pub const MAX_CHALLENGES: u32 = 4;

/// Recovery requests (start, finish, cancel) and registrations one connection may make
/// before login.
pub const MAX_RECOVERY_REQUESTS: u32 = 4;
