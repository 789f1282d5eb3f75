//! Accounts as the operator and the login see them: adding, listing and removing accounts,
//! passwords, and session tokens with their per-account index. Removing an account is the
//! one operation that reaches every domain: its unfinished deliveries, mailbox, recovery
//! record, registration entries and tokens go in one transaction.

use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use super::db::{Finish, Store, Tx, View};
use super::error::StoreError;
use super::records::{decode, encode, TokenRecord, UserRecord};
use super::tables::{TOKENS, USERS, USER_TOKENS};
use super::users::UsersView;

/// An account as listed by `qxfer user list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub name: String,
    pub created: u64,
}

/// `name`'s tokens from the per-account index: (stored key, expiry).
/// A token as its account's listing sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub key: [u8; 32],
    pub expires: u64,
    /// The network it was issued to (`None`: before networks were kept).
    pub net: Option<String>,
}

fn tokens_of(view: &impl View, name: &str) -> Result<Vec<(Vec<u8>, u64)>, StoreError> {
    let index = view.table(USER_TOKENS)?;
    let empty: &[u8] = &[];
    let mut out = Vec::new();
    for row in index.range((name, empty)..)? {
        let (k, v) = row?;
        let (user, key) = k.value();
        if user != name {
            break;
        }
        out.push((key.to_vec(), v.value()));
    }
    Ok(out)
}

impl Tx {
    /// Revoke every token of `name` (with their automation marks).
    fn revoke_tokens(&self, name: &str) -> Result<(), StoreError> {
        let doomed: Vec<Vec<u8>> = tokens_of(self, name)?.into_iter().map(|(k, _)| k).collect();
        let mut tokens = self.open(TOKENS)?;
        let mut index = self.open(USER_TOKENS)?;
        for k in &doomed {
            tokens.remove(k.as_slice())?;
            index.remove((name, k.as_slice()))?;
        }
        self.forget_automation(&doomed.iter().map(Vec::as_slice).collect::<Vec<_>>())?;
        Ok(())
    }
}

impl Store {
    pub fn add_user(&self, name: &str, phc: &str, now: u64) -> Result<(), StoreError> {
        self.write(|tx| {
            if tx.user_exists(name)? {
                return Err(StoreError::Exists(name.to_owned()));
            }
            tx.put_user(name, &UserRecord { phc: phc.to_owned(), created: now })?;
            tx.add_skeleton(name)
        })
    }

    /// Replace a password hash and revoke the account's tokens, only while the hash is
    /// still `expected` (the one just checked). Returns whether it was replaced.
    pub fn set_password_if(&self, name: &str, expected: &str, phc: &str) -> Result<bool, StoreError> {
        self.write_or_roll_back(|tx| {
            let Some(rec) = tx.user(name)? else { return Ok(Finish::RollBack(false)) };
            if rec.phc != expected {
                return Ok(Finish::RollBack(false));
            }
            tx.put_user(name, &UserRecord { phc: phc.to_owned(), created: rec.created })?;
            tx.revoke_tokens(name)?;
            Ok(Finish::Commit(true))
        })
    }

    /// Replace a password hash and revoke the account's tokens.
    pub fn set_password(&self, name: &str, phc: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            let Some(rec) = tx.user(name)? else { return Err(StoreError::NoSuchUser(name.to_owned())) };
            tx.put_user(name, &UserRecord { phc: phc.to_owned(), created: rec.created })?;
            tx.revoke_tokens(name)
        })
    }

    /// Delete an account, its tokens and its mailbox records.
    /// Returns the unfinished deliveries from or to the account, now dropped (their
    /// reservations released), so their files can be removed.
    pub fn remove_user(&self, name: &str) -> Result<Vec<u64>, StoreError> {
        self.write(|tx| {
            let dropped = tx.drop_deliveries_of(name)?;
            if !tx.remove_user_row(name)? {
                return Err(StoreError::NoSuchUser(name.to_owned()));
            }
            tx.revoke_tokens(name)?;
            tx.purge_recovery(name)?;
            tx.purge_registration(name)?;
            tx.empty_mailbox(name)?;
            tx.forget_spool(name)?;
            let seq = tx.next_seq()?;
            tx.mark_removed(name, seq)?;
            Ok(dropped)
        })
    }

    pub fn list_users(&self) -> Result<Vec<UserInfo>, StoreError> {
        self.read(|rx| {
            let mut out = Vec::new();
            for row in rx.table(USERS)?.iter()? {
                let (k, v) = row?;
                let rec: UserRecord = decode(v.value(), "users")?;
                out.push(UserInfo { name: k.value().to_owned(), created: rec.created });
            }
            Ok(out)
        })
    }

    pub fn user_exists(&self, name: &str) -> Result<bool, StoreError> {
        self.read(|rx| rx.user_exists(name))
    }

    /// When the account was made (`None`: no such account).
    pub fn user_created(&self, name: &str) -> Result<Option<u64>, StoreError> {
        self.read(|rx| Ok(rx.user(name)?.map(|rec| rec.created)))
    }

    pub fn password_hash(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.read(|rx| Ok(rx.user(name)?.map(|rec| rec.phc)))
    }

    /// Keep a session token for `user`, only if the account still has the password hash
    /// `phc` that was just checked: a password changed or an account removed (or made anew)
    /// during the check gets no token. Returns whether it was kept.
    /// `net`: the network (/24 or /64) it is issued to.
    pub fn add_token(
        &self,
        key: &[u8; 32],
        user: &str,
        phc: &str,
        expires: u64,
        net: Option<&str>,
    ) -> Result<bool, StoreError> {
        self.write_or_roll_back(|tx| {
            if tx.user(user)?.is_none_or(|rec| rec.phc != phc) {
                return Ok(Finish::RollBack(false));
            }
            let rec = TokenRecord { user: user.to_owned(), expires, net: net.map(str::to_owned) };
            let rec = encode(&rec, "tokens")?;
            tx.open(TOKENS)?.insert(key.as_slice(), rec.as_slice())?;
            tx.open(USER_TOKENS)?.insert((user, key.as_slice()), expires)?;
            Ok(Finish::Commit(true))
        })
    }

    /// The account a token belongs to, if it is known and unexpired.
    pub fn token_user(&self, key: &[u8; 32], now: u64) -> Result<Option<String>, StoreError> {
        self.read(|rx| match rx.table(TOKENS)?.get(key.as_slice())? {
            Some(v) => {
                let rec: TokenRecord = decode(v.value(), "tokens")?;
                Ok((rec.expires > now).then_some(rec.user))
            }
            None => Ok(None),
        })
    }

    /// `user`'s unexpired session tokens: (stored key, expiry).
    pub fn user_tokens(&self, user: &str, now: u64) -> Result<Vec<([u8; 32], u64)>, StoreError> {
        Ok(self.user_tokens_at(user, now)?.into_iter().map(|t| (t.key, t.expires)).collect())
    }

    /// `user`'s unexpired tokens with the network each was issued to.
    pub fn user_tokens_at(&self, user: &str, now: u64) -> Result<Vec<TokenInfo>, StoreError> {
        self.read(|rx| {
            let tokens = rx.table(TOKENS)?;
            let mut out = Vec::new();
            for (key, expires) in tokens_of(rx, user)? {
                let Ok(key) = <[u8; 32]>::try_from(key) else { continue };
                if expires <= now {
                    continue;
                }
                let net = match tokens.get(key.as_slice())? {
                    Some(v) => decode::<TokenRecord>(v.value(), "tokens")?.net,
                    None => continue,
                };
                out.push(TokenInfo { key, expires, net });
            }
            Ok(out)
        })
    }

    /// Revoke every token of `user` issued to the network `net` (a disowned place): session
    /// and automation tokens alike. Returns how many.
    pub fn revoke_tokens_issued_at(&self, user: &str, net: &str) -> Result<usize, StoreError> {
        let doomed: Vec<[u8; 32]> = self
            .user_tokens_at(user, 0)?
            .into_iter()
            .filter(|t| t.net.as_deref() == Some(net))
            .map(|t| t.key)
            .collect();
        self.revoke_token_keys(user, &doomed)
    }

    /// Revoke these tokens of `user` (keys of other accounts are ignored); returns how many.
    pub fn revoke_token_keys(&self, user: &str, keys: &[[u8; 32]]) -> Result<usize, StoreError> {
        self.write(|tx| {
            let mut n = 0;
            {
                let mut tokens = tx.open(TOKENS)?;
                let mut index = tx.open(USER_TOKENS)?;
                for k in keys {
                    if index.remove((user, k.as_slice()))?.is_some() {
                        tokens.remove(k.as_slice())?;
                        n += 1;
                    }
                }
            }
            tx.forget_automation(&keys.iter().map(|k| k.as_slice()).collect::<Vec<_>>())?;
            Ok(n)
        })
    }
}
