//! clap definitions. Every command's help ends with an example.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "qxfer",
    version,
    about = "Send files, directories, messages and mail over QUIC + TLS 1.3 to a hardened receiver",
    after_help = "Examples:\n  qxfer listen\n  qxfer user add alice\n  qxfer send --accept-new alice@host.example report.pdf photos/ -s \"Holiday\" -m \"Pictures attached\"\n  qxfer inbox alice@host.example\n  qxfer fetch alice@host.example --all -o ~/Downloads\n\nExit codes:\n  0 ok\n  1 error\n  2 usage error\n  3 authentication failed\n  4 listener certificate not trusted\n  5 refused by the listener (this address is banned, or the listener is full)\n  6 partial (some paths or deliveries left out, each listed)\n  7 challenge failed\n  130 interrupted (run the same command again to resume)"
)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// No progress bars and no summary lines.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the receiving listener.
    #[command(after_help = "Example:\n  qxfer listen --bind 0.0.0.0:4433 --bind [::]:4433 --data /var/lib/qxfer")]
    Listen(ListenArgs),
    /// Manage accounts on a listener's data directory (works while it runs).
    #[command(subcommand, after_help = "Examples:\n  qxfer user add alice\n  qxfer user list --json")]
    User(UserCmd),
    /// Send files, directories, a message or mail to an account.
    #[command(
        after_help = "Examples:\n  qxfer send alice@host.example notes.txt          # to your own mailbox\n  qxfer send alice@host.example --to bob -s \"Report\" -m \"See attached\" report.pdf\n  qxfer send alice@host.example --to bob --to carol slides.pdf\n  echo hello | qxfer send alice@host.example --to bob -m -\n  qxfer send office .                               # an alias from config.toml; this directory\n  QXFER_PASSWORD=… qxfer send --user alice --fingerprint sha256:… 10.0.0.5:4433 dir/\n\nWhat cannot be sent (unreadable, missing, a name other systems cannot store, a dangling link) is listed and the rest is sent; the exit code is then 6. --strict sends nothing instead."
    )]
    Send(SendArgs),
    /// List the deliveries in your mailbox.
    #[command(
        after_help = "Examples:\n  qxfer inbox alice@host.example\n  qxfer inbox alice@host.example --new --json"
    )]
    Inbox(InboxArgs),
    /// Download deliveries from your mailbox.
    #[command(
        after_help = "Examples:\n  qxfer fetch alice@host.example 12 13 -o inbox/\n  qxfer fetch alice@host.example --new\n  qxfer fetch alice@host.example --all --skip-existing\n\nFiles land in DIR/<id>/<path>, a message's text in DIR/<id>.txt. Fetched deliveries are marked seen. Files keep their sender's permission bits (never set-id) and modification time. A delivery that cannot be fetched (unknown id, a different file already there) is reported and the others are fetched; the exit code is then 6."
    )]
    Fetch(FetchArgs),
    /// Print a delivery's message (headers and body) and list its files; marks it seen.
    #[command(after_help = "Example:\n  qxfer read alice@host.example 12 | less")]
    Read(ReadArgs),
    /// Delete deliveries from your mailbox (their files and quota are freed).
    #[command(after_help = "Example:\n  qxfer delete alice@host.example 12 13")]
    Delete(DeleteArgs),
    /// Recover an account whose password is lost: a code texted to its oldest phone number,
    /// with the secret answer or a recovery code (`qxfer recover cancel HOST CODE` cancels a
    /// pending change with a texted cancel code).
    #[command(
        after_help = "Examples:\n  qxfer recover host.example --user alice\n  qxfer recover cancel host.example k4x9m-qe7tr-a3cdf\n\nFor scripts, --answer-stdin (or --recovery-code-stdin), --password-stdin (the NEW password) and\n--code-stdin read the answer, the new password and then the texted code from lines of stdin, in\nthat order: everything is checked before a code is texted.",
        mut_arg("password_stdin", |a| a.help("Read the NEW password from a line of stdin (after the answer)"))
    )]
    Recover(RecoverArgs),
    /// Create an account on a listener that takes registrations: a name, a password (typed
    /// twice), a captcha; optionally a phone number verified by a texted code.
    #[command(
        after_help = "Examples:\n  qxfer register alice@files.example.org\n  qxfer register alice@files.example.org --phone +34612345678",
        mut_arg("password_stdin", |a| a.help("Read the new account's password from the first line of stdin"))
    )]
    Register(RegisterArgs),
    /// Your account on a listener: phone numbers, secret question, recovery codes, password,
    /// sessions.
    #[command(
        subcommand,
        after_help = "Examples:\n  qxfer account show alice@host.example\n  qxfer account phone add alice@host.example +34612345678\n  qxfer account question set alice@host.example --question \"First pet?\"\n  qxfer account passwd alice@host.example"
    )]
    Account(AccountCmd),
    /// Print the listener's certificate fingerprint (to compare with what a client shows).
    #[command(after_help = "Example:\n  qxfer fingerprint --data /var/lib/qxfer")]
    Fingerprint(InitDataArgs),
    /// Show a running listener's counters.
    #[command(after_help = "Example:\n  qxfer status --data /var/lib/qxfer --json")]
    Status(StatusArgs),
    /// Make a private CA and listener certificates signed by it.
    #[command(
        subcommand,
        after_help = "Example:\n  qxfer cert ca --out ./my-ca && qxfer cert issue --ca ./my-ca --out ./listener host.example"
    )]
    Cert(CertCmd),
    /// Show and change the listener's IP rules and bans (works while it runs).
    #[command(subcommand, after_help = "Examples:\n  qxfer firewall list\n  qxfer firewall ban 203.0.113.7 --for 1h")]
    Firewall(FirewallCmd),
    /// What happened: offending sources and accounts, events by kind and hour, latest events.
    #[command(after_help = audit_help())]
    Audit(AuditArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(
        after_help = "Examples:\n  qxfer completions bash > ~/.local/share/bash-completion/completions/qxfer\n  qxfer completions zsh > ~/.zfunc/_qxfer\n  qxfer completions fish > ~/.config/fish/completions/qxfer.fish"
    )]
    Completions {
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) on stdout, or write a page per command into a directory.
    #[command(
        after_help = "Examples:\n  qxfer man > qxfer.1 && man ./qxfer.1\n  qxfer man --out /usr/local/share/man/man1"
    )]
    Man {
        /// Write qxfer.1 and a qxfer-COMMAND.1 page for every command into DIR.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

/// `audit --help`'s text: examples and every event kind.
fn audit_help() -> String {
    let kinds: Vec<&str> = crate::policy::activity::Kind::ALL.iter().map(|k| k.name()).collect();
    format!(
        "Examples:\n  qxfer audit --since 1h\n  qxfer audit --source 203.0.113.0/24 --kind login_failed --json\nKinds: {}",
        kinds.join(" ")
    )
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only the last DURATION (30s, 10m, 2h, 7d).
    #[arg(long, value_name = "DURATION", default_value = "1d", value_parser = parse_duration)]
    pub since: u64,
    /// Only this address or network.
    #[arg(long, value_name = "IP|CIDR")]
    pub source: Option<String>,
    /// Only this account.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// Only this kind of event.
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,
    /// JSON lines on stdout (one per event, source, account, kind and hour).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub data: DataArgs,
}

/// `30s`, `10m`, `2h`, `7d`: a number and its unit (a bare number is refused: is `5` five
/// seconds or five days?).
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().map_err(|_| format!("{s:?} is not a duration like 30s, 10m, 2h or 7d"))?;
    let mult = match unit {
        "" => return Err(format!("{s:?} has no unit: write {n}s, {n}m, {n}h or {n}d")),
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (s, m, h or d)")),
    };
    n.checked_mul(mult).ok_or_else(|| format!("{s:?} is too long"))
}

/// A delivery id: a whole number, as `qxfer inbox` lists it.
pub fn parse_id(s: &str) -> Result<u64, String> {
    s.parse::<u64>()
        .map_err(|_| format!("{s:?} is not a delivery id: ids are whole numbers, as `qxfer inbox` lists them"))
}

/// `--retry` values (mapped onto `policy::RetryMode`).
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum RetryArg {
    Never,
    Load,
    Always,
}

#[derive(Debug, Subcommand)]
pub enum FirewallCmd {
    /// Allow a network: it skips the per-address connection limits and is never blocked by a broader rule.
    #[command(after_help = "Example:\n  qxfer firewall allow 192.0.2.0/24")]
    Allow {
        /// An address or a network (CIDR).
        #[arg(value_name = "IP|CIDR")]
        net: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Block a network: its connection attempts are refused before the handshake, and its
    /// live connections are closed.
    #[command(after_help = "Example:\n  qxfer firewall block 203.0.113.7")]
    Block {
        /// An address or a network (CIDR).
        #[arg(value_name = "IP|CIDR")]
        net: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Remove the rule for exactly this network.
    #[command(after_help = "Example:\n  qxfer firewall remove 203.0.113.7/32")]
    Remove {
        /// An address or a network (CIDR).
        #[arg(value_name = "IP|CIDR")]
        net: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Ban an address or network now (refused before the handshake until the ban ends).
    #[command(
        after_help = "Examples:\n  qxfer firewall ban 203.0.113.7 --for 1h\n  qxfer firewall ban 198.51.100.0/24"
    )]
    Ban {
        /// An address or a network (CIDR).
        #[arg(value_name = "IP|CIDR")]
        net: String,
        /// How long (30s, 10m, 2h, 7d); default: the escalating ban time for this network.
        #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration)]
        duration: Option<u64>,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Lift a ban now (its level is kept, so a repeat offence still bans longer).
    #[command(after_help = "Example:\n  qxfer firewall unban 203.0.113.7")]
    Unban {
        /// An address or a network (CIDR).
        #[arg(value_name = "IP|CIDR")]
        net: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// List the rules and the bans in force.
    #[command(after_help = "Example:\n  qxfer firewall list --json")]
    List {
        #[command(flatten)]
        data: DataArgs,
        /// One JSON object per rule.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct DataArgs {
    /// Listener data directory [env: QXFER_DATA_DIR; default: the platform data directory].
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
}

/// A data directory that the command may create with `--init`.
#[derive(Debug, Args)]
pub struct InitDataArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Create the data directory (and its identity and database) if it does not exist yet;
    /// `qxfer listen` creates it too.
    #[arg(long)]
    pub init: bool,
}

#[derive(Debug, Args)]
pub struct ListenArgs {
    /// Address to listen on (UDP): IP or host name, with or without :PORT (default 4433);
    /// repeat for several. Port 0 picks a free port. Default: every IPv4 and IPv6 address.
    #[arg(long, value_name = "ADDR")]
    pub bind: Vec<String>,
    #[command(flatten)]
    pub data: DataArgs,
    /// PEM certificate chain to use instead of the generated self-signed one.
    #[arg(long, value_name = "PEM", requires = "key")]
    pub cert: Option<PathBuf>,
    /// PEM private key for --cert.
    #[arg(long, value_name = "PEM", requires = "cert")]
    pub key: Option<PathBuf>,
    /// TOML config file: [limits], [scoring] and [challenges] (see README).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// IP allow/block rules file [default: DATA/ip-rules.txt]; reloaded on change and SIGHUP.
    #[arg(long, value_name = "FILE")]
    pub ip_rules: Option<PathBuf>,
    /// Open connections allowed from one IP address (limits.max_connections_per_ip).
    #[arg(long, value_name = "N")]
    pub max_connections_per_ip: Option<u32>,
    /// Seconds a connection may take to log in (limits.login_deadline_secs).
    #[arg(long, value_name = "SECS")]
    pub login_deadline: Option<u64>,
    /// Seconds of silence before a connection is closed (limits.idle_timeout_secs).
    #[arg(long, value_name = "SECS")]
    pub idle_timeout: Option<u64>,
    /// QUIC address validation: never, load (past limits.retry_above connections) or always.
    #[arg(long, value_name = "MODE")]
    pub retry: Option<RetryArg>,
    /// Threads that move packets [default: one per core]. With 1, every connection's packets
    /// stay on one thread: one big transfer is faster, but a flood of hostile connections
    /// competes with it for that thread (measured in the README's Benchmarks).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
}

/// Threads that move packets on a listener with `cores` cores, unless `--threads` says.
pub fn listen_threads(asked: Option<u16>, cores: usize) -> usize {
    asked.map_or(cores.max(1), usize::from)
}

#[derive(Debug, Args)]
pub struct PasswordArgs {
    /// Read the password from the first line of stdin instead of prompting.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Create an account (password from a prompt, QXFER_PASSWORD or --password-stdin).
    #[command(after_help = "Example:\n  echo 'long secret' | qxfer user add alice --password-stdin")]
    Add {
        /// Account name: 1-32 of a-z, 0-9, ".", "_", "-".
        name: String,
        #[command(flatten)]
        data: InitDataArgs,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Delete an account, its sessions and its mailbox.
    #[command(after_help = "Example:\n  qxfer user remove alice")]
    Remove {
        /// Account name.
        name: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// List accounts.
    #[command(after_help = "Example:\n  qxfer user list --json")]
    List {
        #[command(flatten)]
        data: DataArgs,
        /// One JSON object per account on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Change an account's password (revokes its sessions).
    #[command(after_help = "Example:\n  qxfer user passwd alice")]
    Passwd {
        /// Account name.
        name: String,
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        password: PasswordArgs,
    },
}

/// How a client reaches and logs in to a listener.
#[derive(Debug, Args)]
pub struct ClientArgs {
    /// The listener: [USER@]HOST[:PORT] (default port 4433), or an alias from
    /// QXFER_CONFIG_DIR/config.toml.
    #[arg(value_name = "[USER@]HOST[:PORT]")]
    pub host: String,
    /// Account to log in as (else USER@ in the host, else the alias's user).
    #[arg(long, env = "QXFER_USER")]
    pub user: Option<String>,
    /// Read the password from the first line of stdin (else QXFER_PASSWORD, else a prompt).
    #[arg(long)]
    pub password_stdin: bool,
    /// Local address to send from (like ssh -b): an IP or a host name, with or without :PORT.
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<String>,
    /// How long to wait for the listener to answer (default 5s; raise it on slow links).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub connect_timeout: Option<u64>,
    /// Trust the listener only if its certificate has this fingerprint, and pin it.
    #[arg(long, value_name = "sha256:HEX")]
    pub fingerprint: Option<String>,
    /// Pin an unknown listener's certificate without asking (trust on first use).
    #[arg(long)]
    pub accept_new: bool,
    /// Trust listeners whose certificate is signed by this CA (PEM) instead of pinning.
    #[arg(long, value_name = "PEM")]
    pub ca: Option<PathBuf>,
    /// If the listener asks for a captcha (after failed logins), also write it to this PNG
    /// file, for a viewer other than the terminal (its text is still typed on the terminal).
    #[arg(long, value_name = "PNG")]
    pub captcha_file: Option<PathBuf>,
    /// One machine-readable JSON summary on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SendArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// Files and directories to send (directories keep their tree).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Message text; "-" reads it from stdin.
    #[arg(short = 'm', long = "message", value_name = "TEXT")]
    pub message: Option<String>,
    /// Subject (makes the delivery a mail).
    #[arg(short = 's', long, value_name = "SUBJECT")]
    pub subject: Option<String>,
    /// Recipient account (default: your own mailbox); repeat for several recipients (one
    /// upload, one delivery each, charged to each one's quota).
    #[arg(long, value_name = "USER")]
    pub to: Vec<String>,
    /// Follow symbolic links inside directories (links named on the command line are always followed).
    #[arg(short = 'L', long)]
    pub follow_symlinks: bool,
    /// Send nothing if any path cannot be sent (default: send the rest, exit 6).
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Args)]
pub struct InboxArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// Only deliveries not yet fetched or read.
    #[arg(long)]
    pub new: bool,
}

#[derive(Debug, Args)]
pub struct ReadArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// The delivery to print (as `qxfer inbox` lists it).
    #[arg(value_name = "ID", value_parser = parse_id)]
    pub id: u64,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// Deliveries to delete (as `qxfer inbox` lists them).
    #[arg(value_name = "ID", required = true, value_parser = parse_id)]
    pub ids: Vec<u64>,
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// Delivery ids to fetch (as `qxfer inbox` lists them).
    #[arg(value_name = "ID", value_parser = parse_id, conflicts_with_all = ["all", "new"])]
    pub ids: Vec<u64>,
    /// Fetch every delivery in the mailbox.
    #[arg(long, conflicts_with = "new")]
    pub all: bool,
    /// Fetch the deliveries not yet fetched or read.
    #[arg(long)]
    pub new: bool,
    /// Output directory.
    #[arg(short = 'o', long = "out", value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
    /// Leave a file that exists with other content as it is, and go on.
    #[arg(long, conflicts_with = "overwrite")]
    pub skip_existing: bool,
    /// Replace a file that exists with other content, once the new one is verified (never
    /// through a link).
    #[arg(long)]
    pub overwrite: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum CertCmd {
    /// Create a private CA (ca.pem, ca.key) in DIR.
    #[command(after_help = "Example:\n  qxfer cert ca --out ./my-ca")]
    Ca {
        /// Directory to write ca.pem and ca.key to.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// The CA's common name.
        #[arg(long, default_value = "qxfer private CA")]
        name: String,
    },
    /// Issue a listener certificate (cert.pem, key.pem) for NAMEs (DNS names or IPs).
    #[command(after_help = "Example:\n  qxfer cert issue --ca ./my-ca --out /var/lib/qxfer host.example 192.0.2.7")]
    Issue {
        /// Directory of the CA (ca.pem, ca.key) that signs.
        #[arg(long, value_name = "DIR")]
        ca: PathBuf,
        /// Directory to write cert.pem and key.pem to.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// DNS names or IP addresses the certificate is for.
        #[arg(required = true)]
        names: Vec<String>,
    },
}

/// `qxfer recover`.
#[derive(Debug, Args)]
pub struct RecoverArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// With `cancel` as HOST: the listener and the cancel code (`qxfer recover cancel HOST CODE`).
    #[arg(value_name = "HOST CODE", num_args = 0..=2)]
    pub rest: Vec<String>,
    /// Read the texted code from a line of stdin (the last one read) instead of prompting.
    #[arg(long)]
    pub code_stdin: bool,
    /// Read the secret answer from a line of stdin instead of prompting.
    #[arg(long, conflicts_with = "recovery_code_stdin")]
    pub answer_stdin: bool,
    /// Read a recovery code (instead of the secret answer) from a line of stdin.
    #[arg(long)]
    pub recovery_code_stdin: bool,
}

/// What every change to an account needs besides the current password (the login's:
/// --password-stdin, QXFER_PASSWORD or a prompt).
#[derive(Debug, Args)]
pub struct ChangeArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// From a network the account has not used for a week, changes wait a day; this asks for
    /// a code texted to the account's oldest number and applies the change at once with it.
    #[arg(long)]
    pub confirm_by_text: bool,
    /// With --confirm-by-text: read the texted code from a line of stdin (the last one read).
    #[arg(long, requires = "confirm_by_text")]
    pub auth_code_stdin: bool,
}

#[derive(Debug, Subcommand)]
pub enum AccountCmd {
    /// Phone numbers (with their age), known places, the secret question, pending changes.
    #[command(after_help = "Example:\n  qxfer account show alice@host.example --json")]
    Show {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Everything the listener holds about the account, as JSON.
    #[command(after_help = "Example:\n  qxfer account export alice@host.example > alice.json")]
    Export {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Phone numbers that recovery codes and announcements go to.
    #[command(subcommand, after_help = "Example:\n  qxfer account phone add alice@host.example +34612345678")]
    Phone(PhoneCmd),
    /// The secret question asked with a texted code when you recover the account.
    #[command(
        subcommand,
        after_help = "Example:\n  qxfer account question set alice@host.example --question \"First pet?\""
    )]
    Question(QuestionCmd),
    /// One-time recovery codes, in place of the secret answer.
    #[command(subcommand, after_help = "Example:\n  qxfer account codes new alice@host.example")]
    Codes(CodesCmd),
    /// Change the password (every other session ends).
    #[command(after_help = "Example:\n  qxfer account passwd alice@host.example")]
    Passwd {
        #[command(flatten)]
        change: ChangeArgs,
        /// Read the new password from the next line of stdin (after the current one).
        #[arg(long)]
        new_password_stdin: bool,
    },
    /// Cancel a pending change (as `qxfer account show` lists it).
    #[command(after_help = "Example:\n  qxfer account cancel alice@host.example 3")]
    Cancel {
        #[command(flatten)]
        client: ClientArgs,
        /// The pending change's id, as `qxfer account show` lists it.
        #[arg(value_name = "ID")]
        id: u64,
    },
    /// Sessions (saved tokens) of the account.
    #[command(subcommand, after_help = "Example:\n  qxfer account tokens list alice@host.example")]
    Tokens(TokensCmd),
}

#[derive(Debug, Subcommand)]
pub enum PhoneCmd {
    /// Add a number; a code is texted to it (then `phone verify`).
    #[command(after_help = "Example:\n  qxfer account phone add alice@host.example +34612345678")]
    Add {
        #[command(flatten)]
        client: ClientArgs,
        /// The phone number with its country code (+34612345678; spaces allowed).
        #[arg(value_name = "+NUMBER")]
        number: String,
    },
    /// Confirm a number with the code texted to it.
    #[command(after_help = "Example:\n  qxfer account phone verify alice@host.example +34612345678")]
    Verify {
        #[command(flatten)]
        change: ChangeArgs,
        /// The phone number with its country code (+34612345678; spaces allowed).
        #[arg(value_name = "+NUMBER")]
        number: String,
        /// Read the texted code from the next line of stdin.
        #[arg(long)]
        code_stdin: bool,
    },
    /// Remove a number.
    #[command(after_help = "Example:\n  qxfer account phone remove alice@host.example +34612345678")]
    Remove {
        #[command(flatten)]
        change: ChangeArgs,
        /// The phone number with its country code (+34612345678; spaces allowed).
        #[arg(value_name = "+NUMBER")]
        number: String,
    },
    /// List the numbers.
    #[command(after_help = "Example:\n  qxfer account phone list alice@host.example --json")]
    List {
        #[command(flatten)]
        client: ClientArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum QuestionCmd {
    /// Set the secret question and its answer (the answer is asked for, twice).
    #[command(after_help = "Example:\n  qxfer account question set alice@host.example --question \"First pet?\"")]
    Set {
        #[command(flatten)]
        change: ChangeArgs,
        /// The question, as you will be asked it (one line).
        #[arg(long, value_name = "TEXT")]
        question: String,
        /// Read the answer from the next line of stdin.
        #[arg(long)]
        answer_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum CodesCmd {
    /// Ten new one-time recovery codes (shown once; the old ones stop working).
    #[command(after_help = "Example:\n  qxfer account codes new alice@host.example")]
    New {
        #[command(flatten)]
        change: ChangeArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokensCmd {
    /// A new token, printed once: with --automation, for scripts (QXFER_TOKEN=... qxfer inbox
    /// USER@HOST): exempt from the checks for behaviour too regular to be human, never from
    /// rate limits or bans.
    #[command(after_help = "Example:\n  qxfer account tokens new alice@host.example --automation > ~/.qxfer-token")]
    New {
        #[command(flatten)]
        client: ClientArgs,
        /// A token for scripts: exempt from the human-timing checks, valid a year.
        #[arg(long)]
        automation: bool,
    },
    /// List the account's sessions.
    #[command(after_help = "Example:\n  qxfer account tokens list alice@host.example --json")]
    List {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// End a session by its id, or all of them.
    #[command(after_help = "Example:\n  qxfer account tokens revoke alice@host.example --all")]
    Revoke {
        #[command(flatten)]
        client: ClientArgs,
        /// The session's id, as `tokens list` shows it.
        #[arg(value_name = "ID", required_unless_present = "all")]
        id: Option<String>,
        /// End every session of the account (this one too).
        #[arg(long, conflicts_with = "id")]
        all: bool,
    },
}

/// `qxfer register`.
#[derive(Debug, Args)]
pub struct RegisterArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// Add this phone number too (E.164, as +34612345678), verified by a texted code: it is
    /// how you recover the account if you forget the password.
    #[arg(long, value_name = "+NUMBER")]
    pub phone: Option<String>,
    /// Read the texted code for --phone from the next line of stdin.
    #[arg(long, requires = "phone")]
    pub code_stdin: bool,
}
