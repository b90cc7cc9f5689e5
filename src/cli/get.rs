//! `tunstack get URL`: steps 3–5 of a page load — send the request line,
//! headers and blank line (plus a body), read the status line, headers and
//! body, then keep the connection alive or close it — with curl's flags.

use super::connector::{Deadlines, StackConnector};
use super::fetch::{fetch, write_head, Fail, Options};
use super::output::LazyFile;
use super::writeout::{self, Shared};
use super::EXIT_OK;
use super::{exit, failure, open_stack, page, report, usage, Failure, NetArgs};
use crate::http::{self, Client, Request, RequestBody, Url};
use clap::Args;
use std::io::{self, IsTerminal, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

mod session;

pub(super) use session::get;

#[derive(Args, Debug)]
pub(crate) struct GetArgs {
    /// The URLs to fetch: [http[s]://]HOST[:PORT]/PATH (HOST a name or an
    /// IPv4 address), one after another over shared kept-alive
    /// connections.
    #[arg(required = true, value_name = "URL")]
    urls: Vec<String>,
    /// Write the body to FILE instead of stdout; repeat for each URL: as
    /// with curl, the n-th -o or -O (in the order given) is the n-th URL's.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Vec<PathBuf>,
    /// Write the body to a file named like the URL's last path segment;
    /// repeat for each URL (paired with the URLs by position, like -o).
    #[arg(short = 'O', long = "remote-name", action = clap::ArgAction::Count)]
    remote_name: u8,
    /// Every -o and -O in command-line order ([`GetArgs::pair_outputs`]);
    /// empty when the positions are not known.
    #[arg(skip)]
    outputs: Vec<OutputSpec>,
    /// Send HEAD and print the response head (to stdout or -o FILE).
    #[arg(short = 'I', long = "head")]
    head: bool,
    /// Request method (default GET; POST with -d; HEAD with -I).
    #[arg(short = 'X', long = "request", value_name = "METHOD")]
    method: Option<String>,
    /// Send DATA as the body (POST, form-encoded). Repeated -d are joined
    /// with '&'; -d @FILE sends FILE's content without CR/LF (as curl does).
    #[arg(short = 'd', long = "data", value_name = "DATA")]
    data: Vec<String>,
    /// Send DATA as the body byte for byte; --data-binary @FILE streams FILE
    /// from disk as it is sent.
    #[arg(long = "data-binary", value_name = "DATA", conflicts_with = "data")]
    data_binary: Option<String>,
    /// Extra header 'Name: value' (replaces a default of the same name);
    /// repeatable.
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// Fail on an HTTP status >= 400: write no body and exit 22.
    #[arg(short = 'f', long = "fail")]
    fail: bool,
    /// Like -f, but write the body first.
    #[arg(long = "fail-with-body", conflicts_with = "fail")]
    fail_with_body: bool,
    /// Follow redirects (301, 302, 303, 307, 308).
    #[arg(short = 'L', long = "location")]
    location: bool,
    /// Most redirects followed with -L.
    #[arg(long, value_name = "N", default_value_t = 20)]
    max_redirs: usize,
    /// Ask for a gzip/deflate-compressed body and decode it.
    #[arg(long)]
    compressed: bool,
    /// Narrate every step on stderr: name lookup, handshake with both ISNs,
    /// request and response heads, body framing, connection reuse.
    #[arg(short, long)]
    verbose: bool,
    /// No progress bar, no status line and no error message (unless -S).
    #[arg(short, long)]
    silent: bool,
    /// With -s: still print the error message when the transfer fails.
    #[arg(short = 'S', long = "show-error")]
    show_error: bool,
    /// After the transfer, print FORMAT to stdout with curl's variables:
    /// %{http_code} %{time_namelookup} %{time_connect} %{time_appconnect}
    /// %{time_starttransfer} %{time_total} %{size_download}
    /// %{speed_download} %{remote_ip} %{remote_port} %{local_port}
    /// %{num_connects} %{url_effective} %{exitcode} %{errormsg}, and \n.
    #[arg(short = 'w', long = "write-out", value_name = "FORMAT")]
    write_out: Option<String>,
    /// Write the response heads to the output before the body.
    #[arg(short = 'i', long = "include")]
    include: bool,
    /// Write the response heads to FILE ("-" for stdout).
    #[arg(short = 'D', long = "dump-header", value_name = "FILE")]
    dump_header: Option<PathBuf>,
    /// User-Agent header.
    #[arg(short = 'A', long = "user-agent", value_name = "NAME")]
    user_agent: Option<String>,
    /// Referer header.
    #[arg(short = 'e', long = "referer", value_name = "URL")]
    referer: Option<String>,
    /// USER:PASSWORD for HTTP Basic authentication.
    #[arg(short = 'u', long = "user", value_name = "USER:PASSWORD")]
    user: Option<String>,
    /// Ask for a byte range only (Range: bytes=RANGE), e.g. 0-99 or 100-.
    #[arg(short = 'r', long = "range", value_name = "RANGE")]
    range: Option<String>,
    /// `-C -`: resume a partial -o file (asks for the bytes after it, and
    /// appends them); an OFFSET asks for the bytes from there.
    #[arg(short = 'C', long = "continue-at", value_name = "OFFSET|-")]
    continue_at: Option<String>,
    /// Try a transient failure (timeout, failed lookup, HTTP 408, 429,
    /// 500, 502, 503, 504) up to N more times.
    #[arg(long, value_name = "N", default_value_t = 0)]
    retry: u32,
    /// With --retry: a refused connection is transient too (curl's
    /// --retry-connrefused).
    #[arg(long)]
    retry_connrefused: bool,
    /// Wait SECONDS between tries (default: 1 s, doubling each time).
    #[arg(long, value_name = "SECONDS")]
    retry_delay: Option<f64>,
    /// Stop retrying once SECONDS have passed since the first try.
    #[arg(long, value_name = "SECONDS")]
    retry_max_time: Option<f64>,
    /// Create the directories of the -o path.
    #[arg(long)]
    create_dirs: bool,
    /// Resolve names to IPv4 addresses only and connect over IPv4 only
    /// (as curl's -4). Without -4/-6 both families race (Happy Eyeballs).
    #[arg(short = '4', long = "ipv4", conflicts_with = "ipv6")]
    ipv4: bool,
    /// Resolve names to IPv6 addresses only and connect over IPv6 only
    /// (as curl's -6).
    #[arg(short = '6', long = "ipv6")]
    ipv6: bool,
    /// Fetch the page, then the CSS, JS and images it links from the same
    /// origin, over kept-alive connections; save all under -P DIR.
    #[arg(short = 'p', long = "page-requisites")]
    page_requisites: bool,
    /// With --page-requisites: fetch over up to N connections at once, as
    /// browsers do (default 6, what they open per host); 1 fetches one
    /// object after another. Bare `--parallel` (curl's switch) means the
    /// default; before the URL write it as `--parallel=N` or `-Z`.
    #[arg(
        long,
        value_name = "N",
        num_args = 0..=1,
        value_parser = clap::value_parser!(u16).range(1..=MAX_PARALLEL),
    )]
    parallel: Option<Option<u16>>,
    /// curl's name for the limit: the same as --parallel N (the two must
    /// agree when both are given a number).
    #[arg(
        long,
        value_name = "N",
        value_parser = clap::value_parser!(u16).range(1..=MAX_PARALLEL),
    )]
    parallel_max: Option<u16>,
    /// curl's -Z (parallel transfers, as bare --parallel): already the
    /// default for --page-requisites; accepted so curl command lines work.
    #[arg(short = 'Z')]
    parallel_switch: bool,
    /// With --page-requisites: draw the page load's waterfall (each
    /// object's connection, start, first byte and end) as SVG to FILE.
    /// -v and --stats print it as text.
    #[arg(long, value_name = "FILE", requires = "page_requisites")]
    waterfall: Option<PathBuf>,
    /// Directory for --page-requisites and -O (default: the current one).
    #[arg(short = 'P', long = "directory-prefix", value_name = "DIR")]
    dir: Option<PathBuf>,
    /// DNS server to ask for host names, IPv4 or IPv6 (default: the
    /// nameservers of /etc/resolv.conf).
    #[arg(long, value_name = "IP")]
    dns: Option<IpAddr>,
    /// Use ADDRESS for HOST without asking DNS (curl's HOST:PORT:ADDRESS,
    /// or HOST:ADDRESS; ADDRESS may be a comma-separated list, IPv6 in
    /// brackets or bare); repeatable.
    #[arg(long, value_name = "HOST:ADDRESS")]
    resolve: Vec<String>,
    /// Hosts file consulted before DNS.
    #[arg(long, value_name = "FILE", default_value = "/etc/hosts")]
    hosts_file: PathBuf,
    /// Print stack and connection counters (RTT, cwnd, retransmissions,
    /// drops by reason) to stderr at the end.
    #[arg(long)]
    stats: bool,
    /// Give up connecting after SECONDS.
    #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
    connect_timeout: f64,
    /// Give up when the server sends nothing for SECONDS.
    #[arg(long, value_name = "SECONDS")]
    read_timeout: Option<f64>,
    /// Give up when the whole operation takes longer than SECONDS.
    #[arg(short = 'm', long, value_name = "SECONDS")]
    max_time: Option<f64>,
    #[command(flatten)]
    pub(super) tls: super::tls::TlsArgs,
    #[command(flatten)]
    pub(super) net: NetArgs,
}

/// One `-o FILE` or `-O`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum OutputSpec {
    File(PathBuf),
    RemoteName,
}

impl GetArgs {
    /// Records the -o and -O options in the order they were given: curl
    /// gives the n-th of them, whichever kind, to the n-th URL
    /// (`-O URL1 -o f URL2` saves URL1 under its own name and URL2 as f).
    pub(crate) fn pair_outputs(&mut self, m: &clap::ArgMatches) {
        let files = m.indices_of("output").into_iter().flatten();
        let mut specs: Vec<(usize, OutputSpec)> = files
            .zip(self.output.iter())
            .map(|(i, p)| (i, OutputSpec::File(p.clone())))
            .collect();
        let remotes = m.indices_of("remote_name").into_iter().flatten();
        specs.extend(remotes.map(|i| (i, OutputSpec::RemoteName)));
        specs.sort_by_key(|(i, _)| *i);
        self.outputs = specs.into_iter().map(|(_, s)| s).collect();
    }

    /// The -o and -O options in the order curl pairs them with the URLs;
    /// without known positions, every -o before every -O.
    fn output_specs(&self) -> Vec<OutputSpec> {
        let known = self.outputs.len() == self.output.len() + usize::from(self.remote_name);
        if known && !self.outputs.is_empty() {
            return self.outputs.clone();
        }
        let files = self.output.iter().cloned().map(OutputSpec::File);
        files
            .chain((0..self.remote_name).map(|_| OutputSpec::RemoteName))
            .collect()
    }
}

/// Connections a page load opens at once by default: what browsers open
/// per host.
const DEFAULT_PARALLEL: u16 = 6;
/// Most connections a page load may open at once (one thread each).
const MAX_PARALLEL: i64 = 64;

fn seconds(flag: &str, v: f64) -> Result<Duration, Failure> {
    if v.is_finite() && v > 0.0 && v < 1e6 {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(usage(format!(
            "{flag} must be a positive number of seconds"
        )))
    }
}

/// RFC 9110 §5.6.2 token (method and header names).
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// `-H 'Name: value'`; as with curl, `-H 'Name:'` (no value) removes the
/// header, and `-H 'Name;'` sends it with an empty value.
fn parse_header(h: &str) -> Result<Header, Failure> {
    if let Some(name) = h.strip_suffix(';').filter(|n| !n.contains(':')) {
        if !is_token(name) {
            return Err(usage(format!("-H {h:?}: invalid header")));
        }
        return Ok(Header::Send(name.to_string(), String::new()));
    }
    let (name, value) = h
        .split_once(':')
        .ok_or_else(|| usage(format!("-H {h:?}: expected 'Name: value'")))?;
    let value = value.trim();
    if !is_token(name) || value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(usage(format!("-H {h:?}: invalid header")));
    }
    if value.is_empty() {
        return Ok(Header::Remove(name.to_string()));
    }
    Ok(Header::Send(name.to_string(), value.to_string()))
}

/// What one `-H` asks for.
#[derive(Debug, PartialEq, Eq)]
enum Header {
    Send(String, String),
    Remove(String),
}

/// `-d @FILE` / `--data-binary @FILE` with a file that cannot be read:
/// curl warns (unless `-s`) and sends the request with that part empty.
fn unreadable(a: &GetArgs, path: &str) {
    if !a.silent {
        eprintln!("Warning: Couldn't read data from file \"{path}\", this makes an empty POST.");
    }
}

/// The request body from -d / --data-binary.
fn body(a: &GetArgs) -> Result<Option<RequestBody>, Failure> {
    if let Some(d) = &a.data_binary {
        return Ok(Some(match d.strip_prefix('@') {
            Some(path) => {
                let Ok(meta) = std::fs::metadata(path) else {
                    unreadable(a, path);
                    return Ok(Some(RequestBody::Bytes(Vec::new())));
                };
                if !meta.is_file() {
                    return Err(failure(
                        exit::READ_ERROR,
                        format!("--data-binary @{path}: not a regular file"),
                    ));
                }
                RequestBody::File(path.into())
            }
            None => RequestBody::Bytes(d.as_bytes().to_vec()),
        }));
    }
    if a.data.is_empty() {
        return Ok(None);
    }
    let mut parts = Vec::new();
    for d in &a.data {
        match d.strip_prefix('@') {
            Some(path) => {
                let mut bytes = std::fs::read(path).unwrap_or_else(|_| {
                    unreadable(a, path);
                    Vec::new()
                });
                bytes.retain(|&b| b != b'\r' && b != b'\n');
                parts.push(bytes);
            }
            None => parts.push(d.as_bytes().to_vec()),
        }
    }
    Ok(Some(RequestBody::Bytes(parts.join(&b'&'))))
}

/// The request the flags describe.
fn build_request(a: &GetArgs, url: Url) -> Result<Request, Failure> {
    let body = body(a)?;
    let method = match (&a.method, a.head, &body) {
        (Some(m), _, _) => m.clone(),
        (None, true, _) => "HEAD".into(),
        (None, false, Some(_)) => "POST".into(),
        (None, false, None) => "GET".into(),
    };
    if !is_token(&method) {
        return Err(usage(format!("-X {method:?}: not a valid method")));
    }
    if a.head && body.is_some() {
        return Err(usage("-I cannot send a body (-d / --data-binary)"));
    }
    let mut req = Request::new(method, url);
    let has = |req: &Request, n: &str| req.headers.iter().any(|(h, _)| h.eq_ignore_ascii_case(n));
    for h in &a.headers {
        match parse_header(h)? {
            Header::Send(n, v) => req.headers.push((n, v)),
            Header::Remove(n) => {
                req.headers.retain(|(h, _)| !h.eq_ignore_ascii_case(&n));
                req.omit.push(n);
            }
        }
    }
    // The shorthand flags, unless -H already set the header (curl lets
    // -H win).
    let mut shorthand = Vec::new();
    if let Some(ua) = &a.user_agent {
        shorthand.push(("User-Agent", ua.clone()));
    }
    if let Some(r) = &a.referer {
        shorthand.push(("Referer", r.clone()));
    }
    if let Some(u) = &a.user {
        // -u takes the credentials as given (no percent-decoding), and
        // wins over the URL's userinfo, as with curl.
        let (user, password) = u.split_once(':').unwrap_or((u, ""));
        shorthand.push((
            "Authorization",
            http::basic_auth(user.as_bytes(), password.as_bytes()),
        ));
    }
    if let Some(r) = &a.range {
        if r.is_empty()
            || !r
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'-' || b == b',')
        {
            return Err(usage(format!("-r {r:?}: expected a byte range like 0-99")));
        }
        shorthand.push(("Range", format!("bytes={r}")));
    }
    for (n, v) in shorthand {
        if v.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(usage(format!("{n}: invalid value")));
        }
        if !has(&req, n) {
            req.headers.push((n.to_string(), v));
        }
    }
    if body.is_some() && !has(&req, "Content-Type") {
        // curl's default for -d.
        req.headers.push((
            "Content-Type".into(),
            "application/x-www-form-urlencoded".into(),
        ));
    }
    if a.compressed && !has(&req, "Accept-Encoding") {
        req.headers
            .push(("Accept-Encoding".into(), http::ACCEPT_ENCODING.into()));
    }
    req.body = body;
    Ok(req)
}

/// `-O`: the URL's last path segment, which must be a plain file name.
fn remote_name(url: &Url) -> Result<String, Failure> {
    let path = url.path.split(['?', '#']).next().unwrap_or("");
    let name = path.rsplit('/').next().unwrap_or("");
    if name.is_empty() || name == "." || name == ".." || name.contains('\\') {
        return Err(failure(
            exit::WRITE_ERROR,
            format!("-O: no file name in {:?} (use -o FILE)", url.path),
        ));
    }
    Ok(name.to_string())
}

/// How many connections a page load may use: `--parallel [N]`,
/// `--parallel-max N`, or the default.
fn parallel(a: &GetArgs) -> Result<usize, Failure> {
    let n = match (a.parallel.flatten(), a.parallel_max) {
        (Some(p), Some(m)) if p != m => {
            return Err(usage(format!(
                "--parallel {p} and --parallel-max {m} disagree"
            )))
        }
        (Some(n), _) | (None, Some(n)) => n,
        (None, None) => DEFAULT_PARALLEL,
    };
    Ok(usize::from(n))
}

/// The resolver for `get`: --resolve overrides, the hosts file, then DNS.
fn build_resolver(a: &GetArgs) -> Result<crate::dns::Resolver, Failure> {
    let hosts = std::fs::read_to_string(&a.hosts_file)
        .map(|t| crate::dns::Hosts::parse(&t))
        .unwrap_or_default();
    let servers = match a.dns {
        Some(s) => vec![s],
        None => std::fs::read_to_string("/etc/resolv.conf")
            .map(|t| crate::dns::nameservers_from_resolv_conf(&t))
            .unwrap_or_default(),
    };
    let mut r = crate::dns::Resolver::new(
        hosts,
        servers
            .into_iter()
            .map(|s| SocketAddr::new(s, 53))
            .collect(),
    );
    for spec in &a.resolve {
        let (host, addrs) = parse_resolve(spec).ok_or_else(|| {
            usage(format!(
                "--resolve {spec:?}: expected HOST:ADDRESS or HOST:PORT:ADDRESS[,ADDRESS...]"
            ))
        })?;
        for ip in addrs {
            r.add_override(host, ip);
        }
    }
    Ok(r)
}

/// curl's `--resolve HOST:PORT:ADDRESS[,ADDRESS...]` (also without the
/// port): addresses of either family, IPv6 ones bracketed or bare.
fn parse_resolve(spec: &str) -> Option<(&str, Vec<IpAddr>)> {
    let (host, rest) = spec.split_once(':')?;
    let list = |s: &str| -> Option<Vec<IpAddr>> {
        s.split(',')
            .map(|a| {
                let a = a.trim();
                let bare = a.strip_prefix('[').and_then(|x| x.strip_suffix(']'));
                bare.unwrap_or(a).parse().ok()
            })
            .collect()
    };
    if host.is_empty() {
        return None;
    }
    // HOST:ADDRESS (an IPv6 address has colons of its own), else
    // HOST:PORT:ADDRESS.
    if let Some(addrs) = list(rest) {
        return Some((host, addrs));
    }
    let (port, addrs) = rest.split_once(':')?;
    port.parse::<u16>().ok()?;
    Some((host, list(addrs)?))
}

/// The URL as curl reads it: without a scheme it means http://.
fn parse_url(s: &str) -> Result<Url, Failure> {
    let full = if s.contains("://") {
        s.to_string()
    } else {
        format!("http://{s}")
    };
    Url::parse(&full).map_err(|e| failure(exit::for_http(&e), format!("bad URL {s:?}: {e}")))
}

/// `get`'s arguments alone as a command line, for the tests here and in
/// `session`.
#[cfg(test)]
#[derive(clap::Parser)]
struct GetCli {
    #[command(flatten)]
    a: GetArgs,
}

#[cfg(test)]
impl GetCli {
    /// The arguments of `get URL EXTRA…`.
    fn args(url: &str, extra: &[&str]) -> GetArgs {
        use clap::Parser;
        let mut v = vec!["t", url];
        v.extend_from_slice(extra);
        GetCli::try_parse_from(v).unwrap().a
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(extra: &[&str]) -> GetArgs {
        GetCli::args("http://h/x/file.bin?q=1", extra)
    }

    fn req(extra: &[&str]) -> Request {
        let a = args(extra);
        build_request(&a, Url::parse(&a.urls[0]).unwrap()).unwrap()
    }

    #[test]
    fn method_follows_curl_rules() {
        assert_eq!(req(&[]).method, "GET");
        assert_eq!(req(&["-I"]).method, "HEAD");
        assert_eq!(req(&["-d", "a=1"]).method, "POST");
        assert_eq!(req(&["-X", "PUT", "-d", "a=1"]).method, "PUT");
        assert_eq!(req(&["-X", "DELETE"]).method, "DELETE");
        let a = args(&["-X", "GE T"]);
        assert!(build_request(&a, Url::parse(&a.urls[0]).unwrap()).is_err());
    }

    #[test]
    fn data_flags_build_the_body_and_content_type() {
        let r = req(&["-d", "a=1", "-d", "b=2"]);
        assert_eq!(r.body, Some(RequestBody::Bytes(b"a=1&b=2".to_vec())));
        assert!(r.headers.contains(&(
            "Content-Type".into(),
            "application/x-www-form-urlencoded".into()
        )));
        let r = req(&["--data-binary", "x\ny", "-H", "Content-Type: text/plain"]);
        assert_eq!(r.body, Some(RequestBody::Bytes(b"x\ny".to_vec())));
        assert_eq!(
            r.headers,
            vec![("Content-Type".to_string(), "text/plain".to_string())]
        );
        let f = std::env::temp_dir().join(format!("tunstack-upload-{}", std::process::id()));
        std::fs::write(&f, b"x").unwrap();
        let at = format!("@{}", f.display());
        let r = req(&["--data-binary", &at]);
        assert_eq!(
            r.body,
            Some(RequestBody::File(f.clone())),
            "streamed, not read"
        );
        let r = req(&["-d", &at]);
        assert_eq!(r.body, Some(RequestBody::Bytes(b"x".to_vec())));
        let _ = std::fs::remove_file(&f);
        let a = args(&["--data-binary", "@/dev/null"]);
        assert!(build_request(&a, Url::parse(&a.urls[0]).unwrap()).is_err());
        // A file that cannot be read is an empty body, as with curl.
        for flag in ["-d", "--data-binary"] {
            let a = args(&["-s", flag, "@/nonexistent/x"]);
            let r = build_request(&a, Url::parse(&a.urls[0]).unwrap()).unwrap();
            assert_eq!(r.body, Some(RequestBody::Bytes(Vec::new())), "{flag}");
            assert_eq!(r.method, "POST");
        }
        let a = args(&["-I", "-d", "x"]);
        assert!(build_request(&a, Url::parse(&a.urls[0]).unwrap()).is_err());
    }

    #[test]
    fn headers_are_validated() {
        assert_eq!(
            parse_header("X-A:  b c ").unwrap(),
            Header::Send("X-A".into(), "b c".into())
        );
        assert_eq!(
            parse_header("X-A;").unwrap(),
            Header::Send("X-A".into(), String::new())
        );
        assert_eq!(
            parse_header("User-Agent:").unwrap(),
            Header::Remove("User-Agent".into())
        );
        let r = req(&["-H", "Accept:", "-H", "X-E;", "-A", "ua"]);
        assert_eq!(r.omit, vec!["Accept".to_string()]);
        let head = String::from_utf8(r.head_bytes("d", true, None).unwrap()).unwrap();
        assert!(!head.contains("Accept"), "{head}");
        assert!(head.contains("\r\nX-E: \r\n"), "{head}");
        assert!(head.contains("\r\nUser-Agent: ua\r\n"), "{head}");
        assert!(parse_header("no colon").is_err());
        assert!(parse_header("Bad Name: v").is_err());
        assert!(parse_header(": v").is_err());
        let r = req(&["--compressed"]);
        assert!(r
            .headers
            .contains(&("Accept-Encoding".into(), "gzip, deflate".into())));
    }

    #[test]
    fn remote_name_is_the_last_segment_or_an_error() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert_eq!(remote_name(&u("http://h/a/b.txt?x=1")).unwrap(), "b.txt");
        assert!(remote_name(&u("http://h/")).is_err());
        assert!(remote_name(&u("http://h/a/")).is_err());
    }

    #[test]
    fn parallel_takes_curls_spellings_and_defaults_to_six() {
        assert_eq!(parallel(&args(&[])).unwrap(), 6);
        assert_eq!(parallel(&args(&["--parallel", "3"])).unwrap(), 3);
        assert_eq!(parallel(&args(&["--parallel=1"])).unwrap(), 1);
        assert_eq!(parallel(&args(&["--parallel"])).unwrap(), 6);
        assert_eq!(parallel(&args(&["-Z"])).unwrap(), 6);
        assert_eq!(parallel(&args(&["-Z", "--parallel-max", "4"])).unwrap(), 4);
        assert_eq!(
            parallel(&args(&["--parallel", "--parallel-max", "2"])).unwrap(),
            2
        );
        assert!(parallel(&args(&["--parallel", "2", "--parallel-max", "3"])).is_err());
        let bad = |extra: &[&str]| {
            let mut v = vec!["t", "http://h/"];
            v.extend_from_slice(extra);
            GetCli::try_parse_from(v).is_err()
        };
        assert!(bad(&["--parallel", "0"]));
        assert!(bad(&["--parallel", "65"]));
        assert!(bad(&["--parallel-max", "x"]));
        assert!(bad(&["--waterfall", "w.svg"]), "--waterfall needs -p");
        assert!(!bad(&["-p", "--waterfall", "w.svg"]));
    }
}
