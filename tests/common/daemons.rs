//! Processes a test runs beside the stack on the kernel's side of its
//! namespace: python's `http.server`, nginx and dnsmasq as [`Daemon`]s
//! (stopped on drop), waiting for their listeners, and stopping a
//! `tunstack serve` child with SIGINT.

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// python3's `http.server` serving `dir` on `bind`:`port`; returns once
/// it listens. Bind the wildcard where 10.0.0.1 exists only once a
/// tunstack process creates tun0.
pub fn http_server(dir: &Path, bind: IpAddr, port: u16) -> Daemon {
    let d = dir.to_str().expect("utf-8 path").to_string();
    let daemon = Daemon::spawn(
        dir,
        "python3",
        &[
            "-m",
            "http.server",
            &port.to_string(),
            "--bind",
            &bind.to_string(),
            "--directory",
            &d,
        ],
    );
    let at = match bind {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    wait_for_listener(SocketAddr::new(at, port));
    daemon
}

/// SIGINT to `child` (a `tunstack serve` with stderr piped), then its exit
/// status and everything it wrote to stderr.
pub fn interrupt(child: &mut Child) -> (std::process::ExitStatus, String) {
    // SAFETY: kill(2) on our own child, which has not been reaped yet.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let status = child.wait().expect("wait for child");
    let mut err = String::new();
    child
        .stderr
        .take()
        .expect("stderr piped")
        .read_to_string(&mut err)
        .expect("read stderr");
    (status, err)
}

/// A child process killed when dropped.
pub struct Daemon {
    child: Child,
    name: String,
}

impl Daemon {
    /// Spawns `cmd args…` with output captured to files under `dir`.
    pub fn spawn(dir: &Path, cmd: &str, args: &[&str]) -> Daemon {
        let log = std::fs::File::create(dir.join(format!("{}.log", cmd.replace('/', "_"))))
            .expect("log file");
        let child = Command::new(cmd)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {cmd}: {e}"));
        Daemon {
            child,
            name: cmd.to_string(),
        }
    }
}

impl Drop for Daemon {
    /// SIGTERM first, so a daemon with worker processes (nginx) takes its
    /// workers down with it: a SIGKILLed nginx master leaves its workers
    /// running, holding every descriptor they inherited. SIGKILL after 3 s.
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child, which has not been reaped yet.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        eprintln!("{} ignored SIGTERM for 3 s; killing it", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes `dir/nginx.conf`: nginx in the foreground (`daemon off`, one
/// worker, as root) with its pid file, error log and temp paths under
/// `dir`, `worker_connections` per worker, and `http` appended inside the
/// `http { … }` block after those paths (types, servers). Returns the
/// file's path.
pub fn nginx_conf(dir: &Path, worker_connections: u32, http: &str) -> PathBuf {
    let d = dir.display();
    let conf = format!(
        "daemon off; pid {d}/nginx.pid; error_log {d}/error.log; worker_processes 1; user root;\n\
         events {{ worker_connections {worker_connections}; }}\n\
         http {{ access_log off; client_body_temp_path {d}/b; proxy_temp_path {d}/p; fastcgi_temp_path {d}/f;\n\
         uwsgi_temp_path {d}/u; scgi_temp_path {d}/s;\n\
         {http} }}\n"
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).expect("write nginx.conf");
    path
}

/// dnsmasq on the kernel side of this thread's namespace, answering from
/// `hosts` (an /etc/hosts-style text, written to `dir/hosts`) on port 53
/// of every address, over UDP and TCP, and nothing else (no upstream, no
/// /etc/hosts). Returns once its sockets are bound: it writes its pid file
/// then. It binds the wildcard address, so it also answers on a tun0
/// created later.
pub fn dnsmasq(dir: &Path, hosts: &str) -> Daemon {
    dnsmasq_with(dir, hosts, &["--port=53"])
}

/// dnsmasq answering from `hosts` only (written to `dir/hosts`), listening
/// as `listen` says (`--port=…`, `--listen-address=…`); returns once it
/// has written its pid file.
pub fn dnsmasq_with(dir: &Path, hosts: &str, listen: &[&str]) -> Daemon {
    std::fs::write(dir.join("hosts"), hosts).expect("write dnsmasq hosts");
    let pid_file = dir.join("dnsmasq.pid");
    let addn_hosts = format!("--addn-hosts={}", dir.join("hosts").display());
    let pid = format!("--pid-file={}", pid_file.display());
    let mut args = vec![
        "--keep-in-foreground",
        "--no-resolv",
        "--no-hosts",
        &addn_hosts,
        &pid,
        "--user=root",
    ];
    args.extend_from_slice(listen);
    let daemon = Daemon::spawn(dir, "dnsmasq", &args);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !pid_file.exists() {
        assert!(Instant::now() < deadline, "dnsmasq did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    daemon
}

/// [`nginx_conf`], then nginx started on it in this thread's namespace;
/// the caller waits for its listeners.
pub fn nginx(dir: &Path, worker_connections: u32, http: &str) -> Daemon {
    let conf = nginx_conf(dir, worker_connections, http);
    Daemon::spawn(
        dir,
        "nginx",
        &[
            "-c",
            conf.to_str().expect("UTF-8 path"),
            "-p",
            &dir.display().to_string(),
        ],
    )
}

/// [`nginx`] with 64 worker connections, returning once it listens on
/// `port` (of 127.0.0.1: it binds the wildcard, as 10.0.0.1 exists only
/// while a stack holds tun0).
pub fn nginx_listening(dir: &Path, port: u16, http: &str) -> Daemon {
    let daemon = nginx(dir, 64, http);
    wait_for_listener(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
    daemon
}

/// Waits until the kernel side accepts TCP connections on `addr` (either
/// family).
pub fn wait_for_listener(addr: impl Into<SocketAddr>) {
    let addr = addr.into();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "nothing listening on {addr} after 20 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
