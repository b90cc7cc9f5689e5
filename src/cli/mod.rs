//! The command-line interface, with curl's habits: `tunstack get URL`
//! (body to stdout or a file, one status line on stderr, `-v` narrating
//! every step of the page load), `tunstack serve` and `tunstack ladder`.
//!
//! Exit codes are curl's ([`exit`], also in README.md and `get --help`):
//! 0 on success (any status without `-f`), 2 on a usage error, and
//! curl's number for each failure (6 unknown host, 7 refused, 22 a status
//! >= 400 with `-f`, 28 timeout, ...).
//!
//! The submodules split `get` by step: [`connector`] resolves names and
//! opens TCP connections with the timeouts, [`get`] builds the request and
//! writes the response, [`page`] fetches a page's requisites (found by
//! [`links`]) in parallel and records its [`waterfall`], [`report`]
//! prints `--stats`.

mod connector;
pub(crate) mod exit;
mod fetch;
mod get;
mod keylog;
mod ladder;
mod links;
mod output;
mod page;
mod paths;
mod report;
mod serve;
mod tls;
mod waterfall;
mod writeout;

use crate::device::{PcapDevice, PcapFile, TraceDevice, TunConfig};
use crate::net::{Config, Stack};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use std::ffi::OsString;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::Duration;

/// Exit code: success.
pub const EXIT_OK: i32 = exit::OK;
/// Exit code: bad command line.
pub const EXIT_USAGE: i32 = exit::USAGE;

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
    #[command(after_help = exit::HELP)]
    Get(Box<get::GetArgs>),
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
    /// Decrypt the TLS in the capture with this key log (NSS format, as
    /// SSLKEYLOGFILE writes it; default: $SSLKEYLOGFILE when set) and name
    /// what each record carries: handshake messages, HTTP lines, alerts.
    #[arg(long, value_name = "FILE")]
    keylog: Option<PathBuf>,
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
pub(crate) struct NetArgs {
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
    /// tunstack's own IPv6 address.
    #[arg(long, default_value = "fd00::2")]
    addr6: Ipv6Addr,
    /// The kernel side's IPv6 address on the TUN interface.
    #[arg(long, default_value = "fd00::1")]
    gateway6: Ipv6Addr,
    /// Prefix length of the TUN interface's IPv6 subnet.
    #[arg(long, default_value_t = 64)]
    prefix6: u8,
    /// Interface MTU.
    #[arg(long, default_value_t = 1500)]
    mtu: usize,
    /// Record every packet tunstack sends and receives to FILE (pcap,
    /// raw IP: IPv4 and IPv6) for Wireshark.
    #[arg(long, value_name = "FILE")]
    pcap: Option<PathBuf>,
    /// Open the TUN interface without virtio-net offloads. By default
    /// tunstack asks for checksum offload and TSO, so one read or write
    /// moves up to 64 KiB of TCP data (the segments the kernel sees stay
    /// MSS-sized), and falls back to a plain TUN if the kernel refuses.
    /// --pcap implies this, so the capture shows every segment as sent.
    #[arg(long)]
    no_offload: bool,
    /// Fixed receive buffer per connection (bytes of window; K, M
    /// suffixes), like SO_RCVBUF (for which Linux reserves twice the
    /// memory, a window of 1–1.25 times the value). By default the
    /// window starts at 1 MiB and grows with the path up to 3.75 MiB
    /// (see --rcvbuf-max).
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    rcvbuf: Option<usize>,
    /// Fixed send buffer per connection (bytes; K, M suffixes), like
    /// SO_SNDBUF. By default it starts at 256 KiB and grows with the
    /// congestion window up to 4 MiB.
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    sndbuf: Option<usize>,
    /// Largest receive buffer autotuning may grow to (bytes of memory; K,
    /// M suffixes), like Linux's `tcp_rmem[2]` [6M]. As on Linux at MTU
    /// 1500, the window opens to 5/8 of it (6M: 3.75 MiB), so the same
    /// value gives the same window as the kernel's receiver. Paths of
    /// 1 Gbit/s at 50–100 ms need 10–20M for a window of their 6–12 MB
    /// BDP.
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    rcvbuf_max: Option<usize>,
    /// Largest send buffer autotuning may grow to, like `tcp_wmem[2]` [4M].
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    sndbuf_max: Option<usize>,
    /// Congestion control for tunstack's connections: bbr, cubic or
    /// newreno (like Linux's `tcp_congestion_control`; default: the
    /// stack's default, bbr).
    #[arg(long = "cc", value_name = "ALGORITHM", value_parser = parse_cc)]
    cc: Option<crate::tcp::Algorithm>,
    /// Queues of the TUN interface (IFF_MULTI_QUEUE), each with a driver
    /// thread of its own; the kernel steers every connection to one
    /// queue by its ports. 1 (the default) is a plain single-queue TUN.
    /// Every queue gets the offloads (unless --no-offload or --pcap);
    /// --pcap records all queues into one file.
    #[arg(long, value_name = "N", default_value_t = 1)]
    queues: usize,
}

/// `--cc NAME`: the error names the accepted values.
fn parse_cc(s: &str) -> Result<crate::tcp::Algorithm, String> {
    s.parse()
        .map_err(|e: crate::tcp::UnknownAlgorithm| e.to_string())
}

/// Largest buffer `--rcvbuf`/`--sndbuf` accept (the window field with the
/// largest scale carries at most 1 GiB).
const MAX_BUFFER: usize = 1 << 30;

/// A byte count with an optional K, M or G suffix (powers of 1024).
fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let (digits, unit) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&t[..i], c.to_ascii_uppercase()),
        _ => (t, 'B'),
    };
    let shift = match unit {
        'B' => 0,
        'K' => 10,
        'M' => 20,
        'G' => 30,
        _ => return Err(format!("`{s}`: unknown unit (use K, M or G)")),
    };
    let n: usize = digits
        .parse()
        .map_err(|_| format!("`{s}`: not a byte count"))?;
    let bytes = n
        .checked_mul(1 << shift)
        .filter(|&b| (1..=MAX_BUFFER).contains(&b))
        .ok_or_else(|| format!("`{s}`: outside 1 byte ..= 1G"))?;
    Ok(bytes)
}

/// A failure with the exit code it maps to.
#[derive(Debug)]
pub(crate) struct Failure {
    code: i32,
    message: String,
}

pub(crate) fn usage(message: impl Into<String>) -> Failure {
    Failure {
        code: EXIT_USAGE,
        message: message.into(),
    }
}

/// A failure that exits with `code` (one of [`exit`]'s).
pub(crate) fn failure(code: i32, message: impl Into<String>) -> Failure {
    Failure {
        code,
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
    let parsed = Cli::command()
        .try_get_matches_from(args)
        .and_then(|m| Ok((Cli::from_arg_matches(&m)?, m)));
    let cli = match parsed {
        Ok((mut cli, m)) => {
            // -o and -O pair with the URLs by position, which only the
            // matches (not the derived fields) remember.
            if let (Command::Get(a), Some(("get", sub))) = (&mut cli.command, m.subcommand()) {
                a.pair_outputs(sub);
            }
            cli
        }
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
        }
    };
    let result = match cli.command {
        Command::Get(a) => get::get(&a),
        Command::Serve(a) => serve(&a),
        Command::Ladder(a) => ladder(&a),
    };
    let code = match result {
        Ok(code) => code,
        Err(f) => {
            eprintln!("tunstack: {}", f.message);
            f.code
        }
    };
    // Every code is one that --help documents.
    debug_assert!(exit::CODES.contains(&code), "undocumented exit code {code}");
    code
}

pub(crate) fn validate_net(n: &NetArgs) -> Result<(), Failure> {
    subnet("", n.addr, n.gateway, n.prefix, 30, |a| {
        u128::from(u32::from(a)) << 96
    })?;
    if !(576..=65535).contains(&n.mtu) {
        return Err(usage(format!("--mtu {} is outside 576..=65535", n.mtu)));
    }
    subnet("6", n.addr6, n.gateway6, n.prefix6, 126, u128::from)?;
    if !(1..=crate::net::MAX_QUEUES).contains(&n.queues) {
        return Err(usage(format!(
            "--queues {} is outside 1..={}",
            n.queues,
            crate::net::MAX_QUEUES
        )));
    }
    Ok(())
}

/// `--addrSUFFIX`, `--gatewaySUFFIX` and `--prefixSUFFIX` (IPv4 with an
/// empty suffix, IPv6 with "6"): a prefix within `1..=max_prefix`, both
/// addresses in that subnet, and different. `bits` is the address as the
/// top bits of a 128-bit number.
fn subnet<A: std::fmt::Display + PartialEq + Copy>(
    suffix: &str,
    addr: A,
    gateway: A,
    prefix: u8,
    max_prefix: u8,
    bits: impl Fn(A) -> u128,
) -> Result<(), Failure> {
    if !(1..=max_prefix).contains(&prefix) {
        return Err(usage(format!(
            "--prefix{suffix} {prefix} is outside 1..={max_prefix}"
        )));
    }
    let mask = u128::MAX << (128 - u32::from(prefix));
    if bits(addr) & mask != bits(gateway) & mask {
        return Err(usage(format!(
            "--addr{suffix} {addr} is not in {gateway}/{prefix}"
        )));
    }
    if addr == gateway {
        return Err(usage(format!(
            "--addr{suffix} and --gateway{suffix} must differ"
        )));
    }
    Ok(())
}

pub(crate) fn open_stack(n: &NetArgs) -> Result<Stack, Failure> {
    let tun = TunConfig {
        name: n.iface.clone(),
        kernel_addr: n.gateway,
        prefix: n.prefix,
        kernel_addr6: Some(n.gateway6),
        prefix6: n.prefix6,
        mtu: n.mtu,
        configure: true,
        offload: !n.no_offload && n.pcap.is_none(),
    };
    let defaults = Config::default();
    let mut config = Config {
        addr: n.addr,
        addr6: n.addr6,
        prefix_len: n.prefix,
        mtu: n.mtu,
        tcp: crate::tcp::Config {
            congestion: n.cc.unwrap_or(defaults.tcp.congestion),
            ..defaults.tcp.clone()
        },
        ..defaults
    };
    if let Some(b) = n.rcvbuf_max {
        config.tcp.recv_buffer_max = b;
    }
    if let Some(b) = n.sndbuf_max {
        config.tcp.send_buffer_max = b;
    }
    // A fixed size is its own maximum: autotuning cannot move it.
    if let Some(b) = n.rcvbuf {
        config.tcp.recv_buffer = b;
        config.tcp.recv_buffer_max = b;
    }
    if let Some(b) = n.sndbuf {
        config.tcp.send_buffer = b;
        config.tcp.send_buffer_max = b;
    }
    if n.queues > 1 {
        config.queues = n.queues;
        return open_queues(n, &tun, config);
    }
    let opened = crate::device::open_tun(&tun).or_else(|e| {
        if !tun.offload || e.kind() == io::ErrorKind::PermissionDenied {
            return Err(e);
        }
        log::info!("no TUN offloads on {} ({e}); using a plain TUN", tun.name);
        crate::device::open_tun(&TunConfig {
            offload: false,
            ..tun.clone()
        })
    });
    let dev = opened.map_err(|e| {
        let hint = if e.kind() == io::ErrorKind::PermissionDenied {
            " (run as root: sudo)"
        } else {
            ""
        };
        failure(EXIT_USAGE, format!("cannot open {}: {e}{hint}", n.iface))
    })?;
    // The tracer sits next to the device so a pcap and the trace log show
    // the same packets.
    let dev = TraceDevice::new(dev);
    let stack = match &n.pcap {
        Some(path) => {
            let dev = PcapDevice::create(dev, path).map_err(|e| {
                failure(
                    exit::WRITE_ERROR,
                    format!("cannot write {}: {e}", path.display()),
                )
            })?;
            Stack::new(dev, config)
        }
        None => Stack::new(dev, config),
    };
    stack.map_err(|e| failure(EXIT_USAGE, format!("cannot start the stack: {e}")))
}

/// The multiqueue arm of [`open_stack`]: every queue traced and, with
/// `--pcap`, recorded into one shared capture file; offload queues unless
/// the kernel refuses them (then plain queues, as with one queue).
fn open_queues(n: &NetArgs, tun: &TunConfig, config: Config) -> Result<Stack, Failure> {
    let capture = match &n.pcap {
        Some(path) => Some(PcapFile::create(path).map_err(|e| {
            failure(
                exit::WRITE_ERROR,
                format!("cannot write {}: {e}", path.display()),
            )
        })?),
        None => None,
    };
    let open = |tun: &TunConfig| {
        Stack::open_tun_queues_with(tun, config.clone(), |q| {
            let dev = TraceDevice::new(q);
            Ok(match &capture {
                Some(file) => Box::new(PcapDevice::with_file(dev, file.clone())),
                None => Box::new(dev),
            })
        })
    };
    let opened = open(tun).or_else(|e| {
        if !tun.offload || e.kind() == io::ErrorKind::PermissionDenied {
            return Err(e);
        }
        log::info!("no TUN offloads on {} ({e}); using plain queues", tun.name);
        open(&TunConfig {
            offload: false,
            ..tun.clone()
        })
    });
    opened.map_err(|e| {
        let hint = if e.kind() == io::ErrorKind::PermissionDenied {
            " (run as root: sudo)"
        } else {
            ""
        };
        failure(EXIT_USAGE, format!("cannot open {}: {e}{hint}", n.iface))
    })
}

#[cfg(test)]
mod size_tests {
    use super::parse_size;

    #[test]
    fn buffer_sizes_parse_with_units_and_bounds() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("256K"), Ok(256 << 10));
        assert_eq!(parse_size("4m"), Ok(4 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        for bad in [
            "",
            "0",
            "2G",
            "12Q",
            "K",
            "-1",
            "1.5M",
            "99999999999999999999",
        ] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}

fn ladder(a: &LadderArgs) -> Result<i32, Failure> {
    let file =
        std::fs::File::open(&a.file).map_err(|e| usage(format!("{}: {e}", a.file.display())))?;
    let mut l = ladder::from_pcap(io::BufReader::new(file))
        .map_err(|e| usage(format!("{}: {e}", a.file.display())))?;
    let keylog = a.keylog.clone().or_else(|| {
        std::env::var_os("SSLKEYLOGFILE")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    });
    if let Some(path) = keylog {
        // A key log has a few lines per connection; 16 MiB is plenty.
        let mut bytes = Vec::new();
        std::fs::File::open(&path)
            .and_then(|f| io::Read::read_to_end(&mut io::Read::take(f, 16 << 20), &mut bytes))
            .map_err(|e| failure(exit::READ_ERROR, format!("{}: {e}", path.display())))?;
        let keys = keylog::KeyLog::parse(&String::from_utf8_lossy(&bytes));
        let opened = keylog::decrypt(&mut l, &keys);
        if opened == 0 {
            eprintln!(
                "tunstack: {} ({} secrets) has none that open this connection's TLS records",
                path.display(),
                keys.count()
            );
        }
    }
    print!("{}", l.text(a.max));
    if let Some(svg) = &a.svg {
        std::fs::write(svg, l.svg(a.max)).map_err(|e| {
            failure(
                exit::WRITE_ERROR,
                format!("cannot write {}: {e}", svg.display()),
            )
        })?;
    }
    Ok(EXIT_OK)
}

fn serve(a: &ServeArgs) -> Result<i32, Failure> {
    validate_net(&a.net)?;
    let mode = if a.echo {
        serve::Mode::Echo
    } else {
        let dir = a
            .dir
            .canonicalize()
            .map_err(|e| usage(format!("--dir {}: {e}", a.dir.display())))?;
        if !dir.is_dir() {
            return Err(usage(format!("--dir {} is not a directory", dir.display())));
        }
        serve::Mode::Files(dir)
    };
    let port = a.port.unwrap_or(if a.echo { 7 } else { 80 });
    if port == 0 {
        return Err(usage("--port must be 1..=65535"));
    }
    let stack = open_stack(&a.net)?;
    serve::install_signal_handlers();
    let what = match &mode {
        serve::Mode::Echo => "echo".to_string(),
        serve::Mode::Files(d) => format!("files from {}", d.display()),
    };
    eprintln!(
        "tunstack: serving {what} on {}:{port} and [{}]:{port} via {} (the kernel side is {} and {}); Ctrl-C stops",
        a.net.addr, a.net.addr6, a.net.iface, a.net.gateway, a.net.gateway6
    );
    let stats = serve::run(&stack, port, &mode, None)
        .map_err(|e| failure(exit::CONNECT, format!("serve: {e}")))?;
    let s = stack.stats();
    // What a load test needs to see at once: whether clients were turned
    // away or had to retry.
    eprintln!(
        "tunstack: listen queues: {} SYNs dropped (accept queue full), {} handshake ACKs \
         ignored (accept queue full), {} SYN cookies sent, {} accepted; {} TIME-WAIT \
         recycled, {} refused (table full); {} segments in, {} out, {} retransmitted",
        s.tcp_listen_overflow,
        s.tcp_listen_ack_dropped,
        s.tcp_syncookies_sent,
        s.tcp_syncookies_recv,
        s.tcp_time_wait_recycled,
        s.tcp_table_full,
        s.tcp_segments_in,
        s.tcp_segments_out,
        s.tcp_retransmits
    );
    // What the send path cost in device calls (scripts/serve-cpu.sh).
    eprintln!(
        "tunstack: device: {} packets written, {} read; driver polls {}; {} TSO batches",
        s.tx_packets, s.rx_packets, s.driver_polls, s.tcp_tso_out
    );
    for line in report::queue_lines(&stack.queue_stats()) {
        eprintln!("tunstack: {line}");
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The subnet check reads the same for both families: IPv4 shifted
    /// to the top of the 128-bit number lines up with IPv6.
    #[test]
    fn subnet_checks_prefix_membership_and_distinctness_for_both_families() {
        let v4 = |a: &str, g: &str, p: u8| {
            let bits = |s: &str| u128::from(u32::from(s.parse::<Ipv4Addr>().unwrap())) << 96;
            subnet("", a, g, p, 30, bits).err().map(|f| f.message)
        };
        let v6 = |a: &str, g: &str, p: u8| {
            let bits = |s: &str| u128::from(s.parse::<std::net::Ipv6Addr>().unwrap());
            subnet("6", a, g, p, 126, bits).err().map(|f| f.message)
        };
        let cases = [
            (v4("10.0.0.2", "10.0.0.1", 24), None),
            (v4("10.0.1.2", "10.0.0.1", 16), None),
            (
                v4("10.0.1.2", "10.0.0.1", 24),
                Some("--addr 10.0.1.2 is not in 10.0.0.1/24"),
            ),
            (
                v4("10.0.0.2", "10.0.0.1", 31),
                Some("--prefix 31 is outside 1..=30"),
            ),
            (v6("fd00::2", "fd00::1", 64), None),
            (
                v6("fd01::2", "fd00::1", 64),
                Some("--addr6 fd01::2 is not in fd00::1/64"),
            ),
            (
                v6("fd00::1", "fd00::1", 64),
                Some("--addr6 and --gateway6 must differ"),
            ),
            (
                v6("fd00::2", "fd00::1", 127),
                Some("--prefix6 127 is outside 1..=126"),
            ),
        ];
        for (i, (got, want)) in cases.into_iter().enumerate() {
            assert_eq!(got.as_deref(), want, "case {i}");
        }
    }

    #[test]
    fn usage_errors_exit_2_without_touching_the_network() {
        assert_eq!(run(["tunstack"]), EXIT_USAGE);
        assert_eq!(run(["tunstack", "get"]), EXIT_USAGE);
        assert_eq!(run(["tunstack", "bogus"]), EXIT_USAGE);
        // `tunstack get` with these arguments, and the exit code.
        let url = "http://10.0.0.1/";
        let cases: [(&[&str], i32); 10] = [
            (&["ftp://x/"], exit::UNSUPPORTED_PROTOCOL),
            (&["http://bad_host!/"], exit::MALFORMED_URL),
            (&[url, "--resolve", "nocolon"], EXIT_USAGE),
            (&[url, "--resolve", "h:notanip"], EXIT_USAGE),
            (&[url, "--prefix", "33"], EXIT_USAGE),
            (&[url, "--addr", "192.168.1.2"], EXIT_USAGE),
            (&[url, "--addr", "10.0.0.1"], EXIT_USAGE),
            (&[url, "--connect-timeout", "-1"], EXIT_USAGE),
            (&[url, "--mtu", "100"], EXIT_USAGE),
            // --pcap with several queues is allowed; its file is created
            // before any queue is opened, so a bad path fails first.
            (
                &[url, "--queues", "2", "--pcap", "/nonexistent/x.pcap"],
                exit::WRITE_ERROR,
            ),
        ];
        for (args, want) in cases {
            let argv = ["tunstack", "get"].iter().chain(args).copied();
            assert_eq!(run(argv), want, "get {args:?}");
        }
        for queues in ["0", "65", "1000000", "-1", "two"] {
            assert_eq!(
                run(["tunstack", "get", url, "--queues", queues]),
                EXIT_USAGE,
                "--queues {queues}"
            );
            assert_eq!(
                run(["tunstack", "serve", "--echo", "--queues", queues]),
                EXIT_USAGE,
                "serve --queues {queues}"
            );
        }
    }

    #[test]
    fn cc_flag_names_the_algorithm_or_fails_as_usage() {
        assert_eq!(
            run(["tunstack", "get", "http://10.0.0.1/", "--cc", "vegas"]),
            EXIT_USAGE
        );
        assert_eq!(run(["tunstack", "serve", "--cc", ""]), EXIT_USAGE);
        for (name, alg) in [
            ("bbr", crate::tcp::Algorithm::Bbr),
            ("cubic", crate::tcp::Algorithm::Cubic),
            ("newreno", crate::tcp::Algorithm::NewReno),
        ] {
            let cli = Cli::try_parse_from(["tunstack", "serve", "--cc", name]).unwrap();
            let Command::Serve(a) = cli.command else {
                panic!("serve")
            };
            assert_eq!(a.net.cc, Some(alg));
            let cli =
                Cli::try_parse_from(["tunstack", "get", "http://10.0.0.1/", "--cc", name]).unwrap();
            let Command::Get(a) = cli.command else {
                panic!("get")
            };
            assert_eq!(a.net.cc, Some(alg));
        }
        let e = Cli::try_parse_from(["tunstack", "serve", "--cc", "vegas"]).unwrap_err();
        assert!(
            e.to_string().contains("expected bbr, cubic or newreno"),
            "{e}"
        );
    }

    #[test]
    fn help_and_version_exit_0() {
        assert_eq!(run(["tunstack", "--help"]), EXIT_OK);
        assert_eq!(run(["tunstack", "--version"]), EXIT_OK);
    }
}
