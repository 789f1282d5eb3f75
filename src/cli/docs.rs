//! `qxfer completions` and `qxfer man`: shell completion scripts and manual pages, made
//! from the clap definitions.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::args::command;
use super::output::outln;

/// `qxfer completions SHELL`: the script on stdout (made whole first: the generator panics
/// on a failed write, and a reader that goes away is not an error).
pub fn completions(shell: clap_complete::Shell) -> Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command(), "qxfer", &mut script);
    std::io::Write::write_all(&mut std::io::stdout().lock(), &script)?;
    Ok(())
}

/// `qxfer man`: one page on stdout, or with `--out DIR` a page per command written there.
pub fn man(out: Option<PathBuf>, quiet: bool) -> Result<()> {
    let Some(dir) = out else {
        clap_mangen::Man::new(command()).render(&mut std::io::stdout())?;
        return Ok(());
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {dir:?}"))?;
    let mut written = Vec::new();
    write_man_pages(command(), "qxfer", &dir, &mut written)?;
    if !quiet {
        outln!("wrote {} manual pages to {dir:?}", written.len())?;
    }
    Ok(())
}

/// `NAME.1` for `cmd` and `NAME-SUB.1` for each of its subcommands, recursively.
fn write_man_pages(cmd: clap::Command, name: &str, dir: &Path, written: &mut Vec<PathBuf>) -> Result<()> {
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.clone()).title(name.to_owned()).render(&mut page)?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, page).with_context(|| format!("writing {path:?}"))?;
    written.push(path);
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        write_man_pages(sub.clone(), &format!("{name}-{}", sub.get_name()), dir, written)?;
    }
    Ok(())
}
