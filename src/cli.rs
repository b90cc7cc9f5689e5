//! The command-line interface (`tunstack get URL`), with curl's habits:
//! the body goes to stdout (or `-o FILE`), a one-line status to stderr.
//!
//! Exit codes: 0 on a 2xx response; 1 on a network or HTTP error
//! (including a non-2xx status); 2 on a usage error.

use crate::device::{PcapDevice, TraceDevice, TunConfig, TunDevice};
use crate::http::{self, Client, Connect};
use crate::net::{Config, Stack, TcpStream};
use clap::{Args, Parser, Subcommand};
use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Exit code: success.
pub const EXIT_OK: i32 = 0;
/// Exit code: network or HTTP failure.
pub const EXIT_FAILURE: i32 = 1;
/// Exit code: bad command line.
pub const EXIT_USAGE: i32 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "tunstack",
    version,
    about = "A userspace TCP/IP stack over a Linux TUN device"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Fetch a URL over tunstack's own TCP (like `curl`).
    Get(GetArgs),
    /// Serve files over HTTP (or echo bytes) on tunstack's address.
    Serve(ServeArgs),
    /// Draw the ladder diagram of the first TCP connection in a pcap.
    Ladder(LadderArgs),
}

#[derive(Args, Debug)]
struct LadderArgs {
    /// A capture written with --pcap (or by tshark on tun0).
    file: PathBuf,
    /// Also write the diagram as SVG to this file.
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
    /// Draw at most this many segments.
    #[arg(long, default_value_t = 200)]
    max: usize,
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// Port to listen on (default 80, or 7 with --echo).
    #[arg(long)]
    port: Option<u16>,
    /// Directory to serve.
    #[arg(long, value_name = "DIR", default_value = ".")]
    dir: PathBuf,
    /// Echo every byte back instead of serving files.
    #[arg(long, conflicts_with = "dir")]
    echo: bool,
    #[command(flatten)]
    net: NetArgs,
}

/// Where tunstack lives: the TUN interface and its addresses.
#[derive(Args, Debug, Clone)]
struct NetArgs {
    /// TUN interface to create or attach to.
    #[arg(long, default_value = "tun0")]
    iface: String,
    /// tunstack's own IPv4 address.
    #[arg(long, default_value = "10.0.0.2")]
    addr: Ipv4Addr,
    /// The kernel side of the TUN interface (assigned to it on creation).
    #[arg(long, default_value = "10.0.0.1")]
    gateway: Ipv4Addr,
    /// Prefix length of the TUN subnet.
    #[arg(long, default_value_t = 24)]
    prefix: u8,
    /// Interface MTU.
    #[arg(long, default_value_t = 1500)]
    mtu: usize,
    /// Record every packet tunstack sends and receives to FILE (pcap,
    /// raw IPv4) for Wireshark.
    #[arg(long, value_name = "FILE")]
    pcap: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct GetArgs {
    /// The URL to fetch (http://HOST[:PORT]/PATH; HOST an IPv4 address).
    url: String,
    /// Write the body to FILE instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
    /// Show the request and response heads and connection details on stderr.
    #[arg(short, long)]
    verbose: bool,
    /// DNS server to ask for host names (default: the first IPv4
    /// nameserver of /etc/resolv.conf).
    #[arg(long, value_name = "IP")]
    dns: Option<Ipv4Addr>,
    /// Use ADDRESS for HOST without asking DNS (curl's HOST:PORT:ADDRESS,
    /// or HOST:ADDRESS); repeatable.
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
    #[command(flatten)]
    net: NetArgs,
}

/// A failure with the exit code it maps to.
#[derive(Debug)]
struct Failure {
    code: i32,
    message: String,
}

fn usage(message: impl Into<String>) -> Failure {
    Failure {
        code: EXIT_USAGE,
        message: message.into(),
    }
}

fn failure(message: impl Into<String>) -> Failure {
    Failure {
        code: EXIT_FAILURE,
        message: message.into(),
    }
}

/// Runs the CLI with `args` (including the program name) and returns the
/// process exit code. Never panics on user input.
pub fn run<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
        }
    };
    let result = match cli.command {
        Command::Get(a) => get(&a),
        Command::Serve(a) => serve(&a),
        Command::Ladder(a) => ladder(&a),
    };
    match result {
        Ok(code) => code,
        Err(f) => {
            eprintln!("tunstack: {}", f.message);
            f.code
        }
    }
}

fn validate_net(n: &NetArgs) -> Result<(), Failure> {
    if !(1..=30).contains(&n.prefix) {
        return Err(usage(format!("--prefix {} is outside 1..=30", n.prefix)));
    }
    if !(576..=65535).contains(&n.mtu) {
        return Err(usage(format!("--mtu {} is outside 576..=65535", n.mtu)));
    }
    let mask = u32::MAX << (32 - u32::from(n.prefix));
    if u32::from(n.addr) & mask != u32::from(n.gateway) & mask {
        return Err(usage(format!(
            "--addr {} is not in {}/{}",
            n.addr, n.gateway, n.prefix
        )));
    }
    if n.addr == n.gateway {
        return Err(usage("--addr and --gateway must differ"));
    }
    Ok(())
}

fn open_stack(n: &NetArgs) -> Result<Stack, Failure> {
    let tun = TunConfig {
        name: n.iface.clone(),
        kernel_addr: n.gateway,
        prefix: n.prefix,
        mtu: n.mtu,
        configure: true,
    };
    let config = Config {
        addr: n.addr,
        mtu: n.mtu,
        ..Config::default()
    };
    let dev = TunDevice::open(&tun).map_err(|e| {
        let hint = if e.kind() == io::ErrorKind::PermissionDenied {
            " (run as root: sudo)"
        } else {
            ""
        };
        failure(format!("cannot open {}: {e}{hint}", n.iface))
    })?;
    // The tracer sits next to the device so a pcap and the trace log show
    // the same packets.
    let dev = TraceDevice::new(dev);
    let stack = match &n.pcap {
        Some(path) => {
            let dev = PcapDevice::create(dev, path)
                .map_err(|e| failure(format!("cannot write {}: {e}", path.display())))?;
            Stack::new(dev, config)
        }
        None => Stack::new(dev, config),
    };
    stack.map_err(|e| failure(format!("cannot start the stack: {e}")))
}

/// Opens TCP connections through the stack; hosts must be IPv4 literals.
struct StackConnector<'a> {
    stack: &'a Stack,
    timeout: Duration,
    verbose: bool,
    stats: bool,
    resolver: std::cell::RefCell<crate::dns::Resolver>,
}

/// DNS over tunstack's own UDP: one datagram out, one answer back.
struct UdpTransport<'a> {
    stack: &'a Stack,
    timeout: Duration,
}

impl crate::dns::Transport for UdpTransport<'_> {
    fn exchange(&mut self, server: SocketAddrV4, query: &[u8]) -> io::Result<Option<Vec<u8>>> {
        let sock = crate::net::UdpSocket::bind(self.stack, 0)?;
        sock.set_read_timeout(Some(self.timeout))?;
        sock.send_to(query, server)?;
        let deadline = Instant::now() + self.timeout;
        let mut buf = [0u8; 1500];
        while Instant::now() < deadline {
            match sock.recv_from(&mut buf) {
                Ok((n, from)) if from == SocketAddr::V4(server) => {
                    return Ok(Some(buf[..n].to_vec()))
                }
                Ok(_) => continue, // not from the server we asked
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }
}

impl StackConnector<'_> {
    fn resolve(&self, host: &str) -> io::Result<Ipv4Addr> {
        let mut transport = UdpTransport {
            stack: self.stack,
            timeout: Duration::from_secs(2),
        };
        let mut next_id = || rand::random::<u16>();
        let now = crate::time::Instant::from_micros(
            u64::try_from(process_start().elapsed().as_micros()).unwrap_or(u64::MAX),
        );
        let r = self
            .resolver
            .borrow_mut()
            .resolve(host, now, &mut transport, &mut next_id);
        match r {
            Ok((ip, source)) => {
                if self.verbose && source != crate::dns::Source::Literal {
                    eprintln!("* Resolved {host} to {ip} (from the {source})");
                }
                Ok(ip)
            }
            Err(e) => Err(io::Error::new(io::ErrorKind::NotFound, e.to_string())),
        }
    }
}

/// A fixed origin for the resolver's cache clock.
fn process_start() -> Instant {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *START.get_or_init(Instant::now)
}

impl Connect for StackConnector<'_> {
    type Stream = Traced<TcpStream>;

    fn connect(&self, host: &str, port: u16) -> io::Result<Self::Stream> {
        let ip = self.resolve(host)?;
        let addr = SocketAddr::V4(SocketAddrV4::new(ip, port));
        if self.verbose {
            eprintln!("*   Trying {addr} through tunstack...");
        }
        let s = TcpStream::connect_timeout(self.stack, &addr, self.timeout)?;
        if self.verbose {
            if let Ok(local) = s.local_addr() {
                eprintln!("* Connected to {addr} from {local} ({})", s.state());
            }
        }
        let samples = self.stats.then(|| Samples {
            start: Instant::now(),
            last: None,
            rows: Vec::new(),
        });
        Ok(Traced {
            inner: s,
            verbose: self.verbose,
            head_done: false,
            samples,
        })
    }
}

/// A stream that echoes the request head to stderr (`-v`) as it is sent,
/// and samples the connection's buffers and windows while it is read
/// (`--stats`).
struct Traced<S> {
    inner: S,
    verbose: bool,
    head_done: bool,
    samples: Option<Samples>,
}

/// Buffer fill and windows over time, bounded (oldest halves are thinned).
struct Samples {
    start: Instant,
    last: Option<Instant>,
    rows: Vec<(Duration, crate::net::TcpInfo)>,
}

const MAX_SAMPLES: usize = 512;

impl Read for Traced<TcpStream> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(s) = self.samples.as_mut() {
            let now = Instant::now();
            if s.last.is_none_or(|l| now - l >= Duration::from_millis(10)) {
                s.last = Some(now);
                if let Ok(info) = self.inner.info() {
                    if s.rows.len() >= MAX_SAMPLES {
                        // Keep every other sample: bounded memory, whole span.
                        let kept: Vec<_> = s.rows.iter().step_by(2).cloned().collect();
                        s.rows = kept;
                    }
                    s.rows.push((now - s.start, info));
                }
            }
        }
        Ok(n)
    }
}

impl<S: Write> Write for Traced<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        if self.verbose && !self.head_done {
            let text = String::from_utf8_lossy(&buf[..n]);
            for line in text.split("\r\n") {
                if line.is_empty() {
                    self.head_done = true;
                    break;
                }
                eprintln!("> {line}");
            }
            if self.head_done {
                eprintln!(">");
            }
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn get(a: &GetArgs) -> Result<i32, Failure> {
    validate_net(&a.net)?;
    http::Url::parse(&a.url).map_err(|e| usage(format!("bad URL {:?}: {e}", a.url)))?;
    let resolver = build_resolver(a)?;
    if !(a.connect_timeout.is_finite() && a.connect_timeout > 0.0 && a.connect_timeout < 1e6) {
        return Err(usage(
            "--connect-timeout must be a positive number of seconds",
        ));
    }
    let mut out: Box<dyn Write> = match &a.output {
        Some(p) => Box::new(io::BufWriter::new(
            std::fs::File::create(p)
                .map_err(|e| failure(format!("cannot create {}: {e}", p.display())))?,
        )),
        None => Box::new(io::BufWriter::new(io::stdout().lock())),
    };
    let stack = open_stack(&a.net)?;
    let start = Instant::now();
    let connector = StackConnector {
        stack: &stack,
        timeout: Duration::from_secs_f64(a.connect_timeout),
        verbose: a.verbose,
        stats: a.stats,
        resolver: std::cell::RefCell::new(resolver),
    };
    // One fetch: say Connection: close, as the classic request does.
    let client = Client::new(connector).keep_alive(false);
    let result = fetch(&client, &a.url, a.verbose, &mut out);
    let flushed = out.flush();
    drop(client);
    let elapsed = start.elapsed();
    let stack_stats = stack.stats();
    // Let our FIN / the peer's FIN be acknowledged before the device goes away.
    stack.shutdown(Duration::from_secs(2));
    let (status, bytes, info, series) = result?;
    if a.stats {
        print_stats(&stack_stats, info.as_ref());
        print_series(&series);
    }
    flushed.map_err(|e| failure(format!("writing output: {e}")))?;
    let secs = elapsed.as_secs_f64().max(1e-6);
    eprintln!(
        "{} {} · {bytes} bytes in {:.3} s ({:.1} Mbit/s) · {}",
        status.0,
        status.1,
        secs,
        bytes as f64 * 8.0 / secs / 1e6,
        a.url
    );
    Ok(if (200..300).contains(&status.0) {
        EXIT_OK
    } else {
        EXIT_FAILURE
    })
}

/// The resolver for `get`: --resolve overrides, the hosts file, then DNS.
fn build_resolver(a: &GetArgs) -> Result<crate::dns::Resolver, Failure> {
    let hosts = std::fs::read_to_string(&a.hosts_file)
        .map(|t| crate::dns::Hosts::parse(&t))
        .unwrap_or_default();
    let server = a.dns.or_else(|| {
        std::fs::read_to_string("/etc/resolv.conf")
            .ok()
            .and_then(|t| crate::dns::nameserver_from_resolv_conf(&t))
    });
    let mut r = crate::dns::Resolver::new(
        hosts,
        server
            .map(|s| SocketAddrV4::new(s, 53))
            .into_iter()
            .collect(),
    );
    for spec in &a.resolve {
        let parts: Vec<&str> = spec.split(':').collect();
        let (host, addr) = match parts.as_slice() {
            [h, a] | [h, _, a] => (*h, *a),
            _ => {
                return Err(usage(format!(
                    "--resolve {spec:?}: expected HOST:ADDRESS or HOST:PORT:ADDRESS"
                )))
            }
        };
        let ip: Ipv4Addr = addr.parse().map_err(|_| {
            usage(format!(
                "--resolve {spec:?}: {addr:?} is not an IPv4 address"
            ))
        })?;
        r.add_override(host, ip);
    }
    Ok(r)
}

fn ladder(a: &LadderArgs) -> Result<i32, Failure> {
    let file =
        std::fs::File::open(&a.file).map_err(|e| usage(format!("{}: {e}", a.file.display())))?;
    let l = crate::ladder::from_pcap(io::BufReader::new(file))
        .map_err(|e| usage(format!("{}: {e}", a.file.display())))?;
    print!("{}", l.text(a.max));
    if let Some(svg) = &a.svg {
        std::fs::write(svg, l.svg(a.max))
            .map_err(|e| failure(format!("cannot write {}: {e}", svg.display())))?;
    }
    Ok(EXIT_OK)
}

fn serve(a: &ServeArgs) -> Result<i32, Failure> {
    validate_net(&a.net)?;
    let mode = if a.echo {
        crate::serve::Mode::Echo
    } else {
        let dir = a
            .dir
            .canonicalize()
            .map_err(|e| usage(format!("--dir {}: {e}", a.dir.display())))?;
        if !dir.is_dir() {
            return Err(usage(format!("--dir {} is not a directory", dir.display())));
        }
        crate::serve::Mode::Files(dir)
    };
    let port = a.port.unwrap_or(if a.echo { 7 } else { 80 });
    if port == 0 {
        return Err(usage("--port must be 1..=65535"));
    }
    let stack = open_stack(&a.net)?;
    crate::serve::install_signal_handlers();
    let what = match &mode {
        crate::serve::Mode::Echo => "echo".to_string(),
        crate::serve::Mode::Files(d) => format!("files from {}", d.display()),
    };
    eprintln!(
        "tunstack: serving {what} on {}:{port} via {} (the kernel side is {}); Ctrl-C stops",
        a.net.addr, a.net.iface, a.net.gateway
    );
    let stats =
        crate::serve::run(&stack, port, &mode, None).map_err(|e| failure(format!("serve: {e}")))?;
    let closed = stack.shutdown(Duration::from_secs(5));
    eprintln!(
        "tunstack: stopped after {} connections (peak {} at once), {} requests, {} bytes sent{}",
        stats.connections,
        stats.peak_connections,
        stats.requests,
        stats.bytes_out,
        if closed {
            ""
        } else {
            "; some connections were still closing"
        }
    );
    Ok(EXIT_OK)
}

/// What a fetch produced: status (code, reason), body bytes, and the
/// connection's final snapshot.
type Fetched = (
    (u16, String),
    u64,
    Option<crate::net::TcpInfo>,
    Vec<(Duration, crate::net::TcpInfo)>,
);

/// `--stats`: the connection's timers and counters, then every non-zero
/// stack counter (drops by reason included). Documented in docs/wireshark.md.
/// `--stats`: receive-buffer fill, advertised window, congestion window
/// and SRTT over the transfer, at most 20 evenly spaced rows.
fn print_series(rows: &[(Duration, crate::net::TcpInfo)]) {
    if rows.is_empty() {
        return;
    }
    eprintln!(
        "over time:    t (ms)   recv buffer   our window   peer window       cwnd   srtt (ms)"
    );
    let step = rows.len().div_ceil(20).max(1);
    for (t, i) in rows.iter().step_by(step) {
        eprintln!(
            "           {:>9.1}   {:>11}   {:>10}   {:>11}   {:>8}   {:>9}",
            t.as_secs_f64() * 1e3,
            i.recv_queue,
            i.recv_window,
            i.send_window,
            i.cwnd,
            i.srtt
                .map_or("-".to_string(), |s| format!("{:.3}", s.as_secs_f64() * 1e3))
        );
    }
}

fn print_stats(stack: &crate::net::Stats, conn: Option<&crate::net::TcpInfo>) {
    if let Some(i) = conn {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        eprintln!(
            "connection: state {}, mss {}, cwnd {} bytes, peer window {} bytes",
            i.state, i.mss, i.cwnd, i.send_window
        );
        eprintln!(
            "  rtt: srtt {}, rttvar {:.3} ms, rto {:.1} ms",
            i.srtt
                .map_or("-".to_string(), |s| format!("{:.3} ms", ms(s))),
            ms(i.rttvar),
            ms(i.rto)
        );
        for (name, v) in i.stats.counters() {
            eprintln!("  {name:<28} {v}");
        }
    }
    eprintln!("stack:");
    for (name, v) in stack.counters().into_iter().filter(|(_, v)| *v != 0) {
        eprintln!("  {name:<28} {v}");
    }
}

fn fetch(
    client: &Client<StackConnector<'_>>,
    url: &str,
    verbose: bool,
    out: &mut dyn Write,
) -> Result<Fetched, Failure> {
    let mut resp = client
        .get(url)
        .map_err(|e| failure(format!("{url}: {e}")))?;
    if verbose {
        eprintln!(
            "< HTTP/1.{} {} {}",
            resp.head.version_minor, resp.head.status, resp.head.reason
        );
        for (name, value) in &resp.head.headers {
            eprintln!("< {name}: {}", String::from_utf8_lossy(value));
        }
        eprintln!("<");
    }
    let status = (resp.head.status, resp.head.reason.clone());
    let bytes =
        io::copy(&mut resp, out).map_err(|e| failure(format!("{url}: reading body: {e}")))?;
    let traced = resp.into_body().into_inner();
    let info = traced.inner.info().ok();
    let series = traced.samples.map(|s| s.rows).unwrap_or_default();
    Ok((status, bytes, info, series))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_errors_exit_2_without_touching_the_network() {
        assert_eq!(run(["tunstack"]), EXIT_USAGE);
        assert_eq!(run(["tunstack", "get"]), EXIT_USAGE);
        assert_eq!(run(["tunstack", "get", "ftp://x/"]), EXIT_USAGE);
        assert_eq!(run(["tunstack", "get", "http://bad_host!/"]), EXIT_USAGE);
        assert_eq!(
            run([
                "tunstack",
                "get",
                "http://10.0.0.1/",
                "--resolve",
                "nocolon"
            ]),
            EXIT_USAGE
        );
        assert_eq!(
            run([
                "tunstack",
                "get",
                "http://10.0.0.1/",
                "--resolve",
                "h:notanip"
            ]),
            EXIT_USAGE
        );
        assert_eq!(
            run(["tunstack", "get", "http://10.0.0.1/", "--prefix", "33"]),
            EXIT_USAGE
        );
        assert_eq!(
            run([
                "tunstack",
                "get",
                "http://10.0.0.1/",
                "--addr",
                "192.168.1.2"
            ]),
            EXIT_USAGE
        );
        assert_eq!(
            run(["tunstack", "get", "http://10.0.0.1/", "--addr", "10.0.0.1"]),
            EXIT_USAGE
        );
        assert_eq!(
            run([
                "tunstack",
                "get",
                "http://10.0.0.1/",
                "--connect-timeout",
                "-1"
            ]),
            EXIT_USAGE
        );
        assert_eq!(
            run(["tunstack", "get", "http://10.0.0.1/", "--mtu", "100"]),
            EXIT_USAGE
        );
        assert_eq!(run(["tunstack", "bogus"]), EXIT_USAGE);
    }

    #[test]
    fn help_and_version_exit_0() {
        assert_eq!(run(["tunstack", "--help"]), EXIT_OK);
        assert_eq!(run(["tunstack", "--version"]), EXIT_OK);
    }
}
