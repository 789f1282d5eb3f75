//! What a person types: a line of stdin (for scripts), or a prompt on the terminal (hidden
//! for secrets), and a new password with its length checked before anything is sent.

use std::io::{BufRead, IsTerminal};

use anyhow::{bail, Context, Result};

use super::exit::usage;

/// One line of stdin, without its line ending.
pub fn read_stdin_line() -> Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("reading password from stdin")?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

/// A line from stdin, or a prompt on the terminal (hidden when `secret`); `option` names
/// the flag that reads it from stdin instead.
pub fn line(from_stdin: bool, prompt: &str, secret: bool, option: &str) -> Result<String> {
    if from_stdin {
        return read_stdin_line();
    }
    if !std::io::stdin().is_terminal() {
        return Err(usage(format!("{prompt}: no terminal to ask on; pass {option} to read it from stdin")));
    }
    if secret {
        return Ok(rpassword::prompt_password(format!("{prompt}: "))?);
    }
    eprint!("{prompt}: ");
    let mut s = String::new();
    std::io::stdin().read_line(&mut s)?;
    Ok(s.trim().to_owned())
}

/// A new password the listener would refuse is a usage error.
pub fn check_new_password(pw: &str) -> Result<()> {
    if pw.len() < crate::wire::MIN_PASSWORD || pw.len() > crate::wire::MAX_PASSWORD {
        return Err(usage(format!("a password is 8 to {} bytes long", crate::wire::MAX_PASSWORD)));
    }
    Ok(())
}

/// A new password for an account on a listener: a line of stdin, or typed twice on the
/// terminal.
pub fn new_password(from_stdin: bool, user: &str) -> Result<String> {
    let p = if from_stdin {
        read_stdin_line()?
    } else {
        let p1 = line(false, &format!("New password for {user}"), true, "--password-stdin")?;
        // A password the listener would refuse is refused before it is typed again.
        check_new_password(&p1)?;
        let p2 = line(false, "Again", true, "--password-stdin")?;
        if p1 != p2 {
            bail!("the passwords differ");
        }
        p1
    };
    check_new_password(&p)?;
    Ok(p)
}
