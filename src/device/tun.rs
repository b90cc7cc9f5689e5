//! A Linux TUN interface (IFF_TUN, no packet info) opened with the
//! `tun-tap` crate, non-blocking, plus the interface set-up the binary does
//! when it creates the device: set the MTU, assign the kernel-side IPv4 and
//! IPv6 addresses and bring the link up — by ioctl and sysctl, so no `ip`
//! binary is needed. Without packet info one device carries both families;
//! the version nibble tells them apart.
//!
//! Addressing convention: the kernel side of tun0 is 10.0.0.1/24 and
//! fd00::1/64; tunstack's own addresses are 10.0.0.2 and fd00::2.
//!
//! IPv6 on the interface is kept quiet rather than disabled: no router
//! advertisements accepted (`accept_ra=0`), no autoconfigured addresses
//! (`autoconf=0`, `addr_gen_mode=1`: not even a link-local one), no
//! duplicate address detection (`accept_dad=0`; a TUN link is
//! `IFF_NOARP`, which skips it too), so fd00::1 is usable the moment it is
//! added, as `ip addr add … nodad` would make it. The MLD reports and
//! router solicitations the kernel may still send are dropped by the stack
//! under a counter.

use super::Device;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use tun_tap::{Iface, Mode};

/// How to open and configure a TUN interface.
#[derive(Clone, Debug)]
pub struct TunConfig {
    /// Interface name (at most 15 bytes).
    pub name: String,
    /// Address assigned to the kernel side of the interface.
    pub kernel_addr: Ipv4Addr,
    /// Prefix length of the kernel-side address.
    pub prefix: u8,
    /// IPv6 address assigned to the kernel side; None disables IPv6 on
    /// the interface. Also disabled below IPv6's minimum MTU of 1280.
    pub kernel_addr6: Option<Ipv6Addr>,
    /// Prefix length of the kernel-side IPv6 address.
    pub prefix6: u8,
    /// Interface MTU.
    pub mtu: usize,
    /// Assign the addresses, set the MTU and bring the link up.
    /// Off when attaching to an interface someone else configured.
    pub configure: bool,
    /// Open with virtio-net headers, checksum offload and TSO
    /// ([`VnetTunDevice`](super::VnetTunDevice)) instead of a plain TUN.
    pub offload: bool,
}

impl Default for TunConfig {
    fn default() -> TunConfig {
        TunConfig {
            name: "tun0".into(),
            kernel_addr: Ipv4Addr::new(10, 0, 0, 1),
            prefix: 24,
            kernel_addr6: Some(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1)),
            prefix6: 64,
            mtu: 1500,
            configure: true,
            offload: false,
        }
    }
}

/// An open TUN interface.
pub struct TunDevice {
    iface: Iface,
    mtu: usize,
}

impl std::fmt::Debug for TunDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TunDevice")
            .field("name", &self.iface.name())
            .field("mtu", &self.mtu)
            .finish()
    }
}

impl TunDevice {
    /// Opens (creating if needed) the interface and, if `cfg.configure`,
    /// configures it.
    ///
    /// # Errors
    /// `InvalidInput` for a bad name, MTU or prefix; `PermissionDenied`
    /// without CAP_NET_ADMIN; other OS errors from `/dev/net/tun` or the
    /// configuration ioctls.
    pub fn open(cfg: &TunConfig) -> io::Result<TunDevice> {
        validate(cfg)?;
        let iface = Iface::without_packet_info(&cfg.name, Mode::Tun)?;
        iface.set_non_blocking()?;
        let dev = TunDevice {
            iface,
            mtu: cfg.mtu,
        };
        if cfg.configure {
            configure(dev.name(), cfg)?;
        }
        Ok(dev)
    }

    /// The interface name the kernel gave us.
    pub fn name(&self) -> &str {
        self.iface.name()
    }
}

/// Checks the name, MTU and prefix of `cfg`.
pub(super) fn validate(cfg: &TunConfig) -> io::Result<()> {
    if cfg.name.is_empty()
        || cfg.name.len() >= libc::IFNAMSIZ
        || cfg.name.contains(['/', ' ', '\0'])
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("bad interface name {:?}", cfg.name),
        ));
    }
    if !(576..=65535).contains(&cfg.mtu) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("MTU {} outside 576..=65535", cfg.mtu),
        ));
    }
    if !(1..=30).contains(&cfg.prefix) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("prefix /{} outside 1..=30", cfg.prefix),
        ));
    }
    if !(1..=126).contains(&cfg.prefix6) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("IPv6 prefix /{} outside 1..=126", cfg.prefix6),
        ));
    }
    Ok(())
}

/// Assigns the addresses, sets the MTU and brings the link up on the
/// interface `name`; IPv6 is made quiet (see the module docs) or, without
/// an IPv6 address, disabled.
pub(super) fn configure(name: &str, cfg: &TunConfig) -> io::Result<()> {
    let addr6 = cfg.kernel_addr6.filter(|_| cfg.mtu >= 1280);
    if addr6.is_some() {
        quiet_ipv6(name);
    } else {
        set_ipv6_conf(name, "disable_ipv6", "1");
    }
    let sock = Ctl::new()?;
    let mask = u32::MAX << (32 - u32::from(cfg.prefix));
    sock.set_addr(name, libc::SIOCSIFADDR, cfg.kernel_addr)?;
    sock.set_addr(name, libc::SIOCSIFNETMASK, Ipv4Addr::from(mask))?;
    sock.set_mtu(name, cfg.mtu)?;
    if let Err(e) = sock.set_txqueuelen(name, TX_QUEUE_LEN) {
        log::debug!("could not set the queue length of {name}: {e}");
    }
    sock.set_up(name)?;
    if let Some(a) = addr6 {
        add_addr6(name, a, cfg.prefix6)?;
        wait_usable(a);
    }
    Ok(())
}

/// Packets the kernel queues toward us (the interface's `txqueuelen`;
/// TUN's default is 500). This queue plays the part of a NIC's receive
/// ring and the kernel's per-CPU backlog, and must hold a burst from every
/// client at once: 500 clients opening connections together have up to
/// three segments each in flight toward us (SYN, ACK, request), and
/// packets beyond the queue are dropped, costing a SYN retransmission (a
/// whole second). 4096, like `somaxconn`, holds a burst from a full
/// accept backlog.
const TX_QUEUE_LEN: i32 = 4096;

/// Waits (up to 2 s) until the kernel lets a socket bind `addr`: with DAD
/// skipped the address still becomes usable only when the kernel's
/// address work runs, a moment after it was added, and a caller that binds
/// or connects at once must not see `EADDRNOTAVAIL`.
fn wait_usable(addr: Ipv6Addr) {
    for _ in 0..200 {
        if std::net::UdpSocket::bind((addr, 0)).is_ok() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    log::warn!("{addr} is still not usable 2 s after it was added");
}

/// IPv6 on, but nothing automatic: no router advertisements or
/// solicitations, no generated addresses (not even link-local), no DAD.
/// Set before the link comes up, when the kernel would act on them.
fn quiet_ipv6(name: &str) {
    for (key, value) in [
        ("accept_ra", "0"),
        ("autoconf", "0"),
        ("router_solicitations", "0"),
        ("addr_gen_mode", "1"),
        ("accept_dad", "0"),
        ("disable_ipv6", "0"),
    ] {
        set_ipv6_conf(name, key, value);
    }
}

/// Writes `/proc/sys/net/ipv6/conf/NAME/KEY`. A kernel without IPv6 has
/// no such file, which is fine: the stack then sees no IPv6 from it.
fn set_ipv6_conf(name: &str, key: &str, value: &str) {
    let path = format!("/proc/sys/net/ipv6/conf/{name}/{key}");
    if let Err(e) = std::fs::write(&path, value) {
        log::debug!("could not set {path} to {value}: {e}");
    }
}

/// Adds `addr/prefix` to the interface (`SIOCSIFADDR` on an `AF_INET6`
/// socket, as `ip -6 addr add` does through netlink). An address already
/// there (an interface someone configured before) is fine.
fn add_addr6(name: &str, addr: Ipv6Addr, prefix: u8) -> io::Result<()> {
    let sock = Ctl::new_v6()?;
    let mut req = ifreq(name);
    sock.ioctl(libc::SIOCGIFINDEX, &mut req, "get interface index")?;
    // SAFETY: SIOCGIFINDEX filled ifru_ifindex.
    let index = unsafe { req.ifr_ifru.ifru_ifindex };
    let mut r6 = libc::in6_ifreq {
        ifr6_addr: libc::in6_addr {
            s6_addr: addr.octets(),
        },
        ifr6_prefixlen: u32::from(prefix),
        ifr6_ifindex: index,
    };
    // SAFETY: r6 is a valid in6_ifreq for SIOCSIFADDR on an AF_INET6
    // socket.
    let rc = unsafe { libc::ioctl(sock.0.as_raw_fd(), libc::SIOCSIFADDR as _, &mut r6) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EEXIST) {
            return Err(io::Error::new(e.kind(), format!("set IPv6 address: {e}")));
        }
    }
    Ok(())
}

/// A zeroed `ifreq` naming the interface `name` (already validated to fit).
pub(super) fn ifreq(name: &str) -> libc::ifreq {
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    req
}

/// An AF_INET datagram socket used only for interface ioctls.
struct Ctl(OwnedFd);

impl Ctl {
    fn new() -> io::Result<Ctl> {
        Ctl::of(libc::AF_INET)
    }

    fn new_v6() -> io::Result<Ctl> {
        Ctl::of(libc::AF_INET6)
    }

    fn of(family: libc::c_int) -> io::Result<Ctl> {
        // SAFETY: plain socket(2) call.
        let fd = unsafe { libc::socket(family, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd was just returned by socket(2) and is owned here.
        Ok(Ctl(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    fn ioctl(&self, op: libc::c_ulong, req: &mut libc::ifreq, what: &str) -> io::Result<()> {
        // SAFETY: req is a valid ifreq for these SIOC* requests.
        let rc = unsafe { libc::ioctl(self.0.as_raw_fd(), op as _, req as *mut libc::ifreq) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(e.kind(), format!("{what}: {e}")));
        }
        Ok(())
    }

    fn set_addr(&self, name: &str, op: libc::c_ulong, addr: Ipv4Addr) -> io::Result<()> {
        let mut req = ifreq(name);
        // SAFETY: writing a sockaddr_in into the sockaddr-sized union field.
        unsafe {
            let sin = &mut req.ifr_ifru.ifru_addr as *mut libc::sockaddr as *mut libc::sockaddr_in;
            (*sin).sin_family = libc::AF_INET as libc::sa_family_t;
            (*sin).sin_addr.s_addr = u32::from(addr).to_be();
        }
        self.ioctl(op, &mut req, "set address")
    }

    fn set_mtu(&self, name: &str, mtu: usize) -> io::Result<()> {
        let mut req = ifreq(name);
        req.ifr_ifru.ifru_mtu = mtu as libc::c_int;
        self.ioctl(libc::SIOCSIFMTU, &mut req, "set MTU")
    }

    fn set_txqueuelen(&self, name: &str, len: i32) -> io::Result<()> {
        let mut req = ifreq(name);
        // ifr_qlen shares the int slot of the union with ifr_mtu.
        req.ifr_ifru.ifru_mtu = len as libc::c_int;
        self.ioctl(libc::SIOCSIFTXQLEN, &mut req, "set queue length")
    }

    fn set_up(&self, name: &str) -> io::Result<()> {
        let mut req = ifreq(name);
        self.ioctl(libc::SIOCGIFFLAGS, &mut req, "get flags")?;
        // SAFETY: SIOCGIFFLAGS filled ifru_flags.
        let flags = unsafe { req.ifr_ifru.ifru_flags };
        req.ifr_ifru.ifru_flags = flags | (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        self.ioctl(libc::SIOCSIFFLAGS, &mut req, "bring link up")
    }
}

impl Device for TunDevice {
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.iface.recv(buf)
    }

    fn send(&mut self, packet: &[u8]) -> io::Result<()> {
        self.iface.send(packet).map(|_| ())
    }

    fn mtu(&self) -> usize {
        self.mtu
    }

    fn as_raw_fd(&self) -> Option<RawFd> {
        Some(self.iface.as_raw_fd())
    }
}
