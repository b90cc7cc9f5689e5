//! A multiqueue TUN interface (`IFF_MULTI_QUEUE`): one file descriptor
//! per queue, each a [`TunQueue`] device a driver thread of its own
//! reads and writes, plus the steering program that decides which queue
//! the kernel puts each packet on.
//!
//! Offloads. With `TunConfig::offload` every queue is an offload queue:
//! each fd is attached with `IFF_VNET_HDR` (the flags of the last
//! `TUNSETIFF` are the interface's, so all queues must agree) and reads
//! and writes virtio-net headers as a [`VnetTunDevice`] does; the header
//! size and the offloads (`TUNSETVNETHDRSZ`, `TUNSETOFFLOAD`) belong to
//! the interface and are set once, on queue 0. Every queue then moves
//! TSO batches of up to 64 KiB both ways. A TSO batch is one TCP segment
//! with one pair of ports, so the steering program sees the same flow in
//! it as in an MTU-sized segment.
//!
//! Steering. Without a program, tun.c picks a queue per packet
//! (`tun_automq_select_queue`): the queue a flow was last written from
//! (a table of symmetric flow hashes `tun_flow_update` fills on every
//! write), else the flow hash scaled to the number of queues; table entries
//! age out after 3 s. A flow we opened and then left idle would then
//! arrive on a queue chosen by a hash we cannot compute (keyed by a
//! kernel secret), whose shard has no such connection and would reset
//! it; every flow's first SYN toward a listener lands on an unknown
//! queue too. So ownership would need a hand-off of misdelivered packets
//! between driver threads, a cross-thread wake (~25 µs here) each.
//! Instead a steering program (`TUNSETSTEERINGEBPF`; with one attached
//! the kernel skips its flow table, `tun_get_user`) computes the queue
//! from the packet's ports with [`crate::wire::steer::flow_hash`], the
//! function the stack uses to pick local ports: the owner of every
//! segment is known in advance and never changes.
//!
//! The program (eBPF, socket-filter type, legacy packet loads, which
//! return 0 on a short packet) returns for
//! - IPv4/IPv6 TCP and UDP: the hash of source and destination port;
//! - ICMP and ICMPv6 errors: the hash of the ports of the quoted packet
//!   (the one we sent; the hash is symmetric), so the owner of the
//!   connection hears it;
//! - IPv4 fragments, IPv6 extension headers and everything else: 0.
//!   All fragments of a datagram thus reassemble on shard 0. Linux TCP
//!   sets DF, so only UDP is fragmented in practice, and UDP sockets are
//!   bound on every shard.
//!
//! The kernel takes the result modulo the number of queues.

use super::tun::{configure, ifreq, validate, TunConfig};
use super::vnet::{enable_offloads, VnetStats, VnetTunDevice};
use super::{Device, Offload, RxMeta};
use crate::wire::steer::STEER_MULTIPLIER;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// One queue of a multiqueue TUN interface: a plain queue (one packet of
/// at most the MTU per read or write) or, with offloads, a
/// [`VnetTunDevice`] on the queue's fd.
pub struct TunQueue {
    io: QueueIo,
    index: usize,
}

enum QueueIo {
    Plain(PlainQueue),
    Vnet(VnetTunDevice),
}

/// A queue without virtio-net headers.
struct PlainQueue {
    fd: OwnedFd,
    mtu: usize,
}

impl std::fmt::Debug for TunQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TunQueue")
            .field("index", &self.index)
            .field("mtu", &self.mtu())
            .field("offload", &self.vnet_stats().is_some())
            .finish()
    }
}

impl TunQueue {
    /// Which queue this is (0-based).
    pub fn index(&self) -> usize {
        self.index
    }

    /// The offload counters of this queue, `None` for a plain queue.
    pub fn vnet_stats(&self) -> Option<VnetStats> {
        match &self.io {
            QueueIo::Plain(_) => None,
            QueueIo::Vnet(v) => Some(v.stats()),
        }
    }

    fn dev(&mut self) -> &mut dyn Device {
        match &mut self.io {
            QueueIo::Plain(p) => p,
            QueueIo::Vnet(v) => v,
        }
    }

    fn dev_ref(&self) -> &dyn Device {
        match &self.io {
            QueueIo::Plain(p) => p,
            QueueIo::Vnet(v) => v,
        }
    }
}

/// Opens (creating if needed) the interface with `queues` queues (offload
/// queues if `cfg.offload`, see the module docs), attaches the steering
/// program and, if `cfg.configure`, configures the interface as
/// [`TunDevice::open`](super::TunDevice::open) does.
///
/// # Errors
/// `InvalidInput` for fewer than 2 queues or as `TunDevice::open`;
/// OS errors from `/dev/net/tun`, `bpf(2)` (loading the steering
/// program needs `CAP_BPF` or root) or the ioctls (`TUNSETOFFLOAD`
/// from a kernel without TUN offloads).
pub fn open_queues(cfg: &TunConfig, queues: usize) -> io::Result<Vec<TunQueue>> {
    validate(cfg)?;
    if !(2..=crate::wire::steer::MAX_QUEUES).contains(&queues) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "a multiqueue TUN takes 2..={} queues, not {queues}",
                crate::wire::steer::MAX_QUEUES
            ),
        ));
    }
    let mut fds = Vec::with_capacity(queues);
    for _ in 0..queues {
        fds.push(open_queue(&cfg.name, cfg.offload)?);
    }
    let Some(first) = fds.first().map(|fd| fd.as_raw_fd()) else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "no queues"));
    };
    if cfg.offload {
        enable_offloads(first)?;
    }
    let prog = load_steering()?;
    let prog_fd: libc::c_int = prog.as_raw_fd();
    {
        // SAFETY: TUNSETSTEERINGEBPF takes a pointer to an int (the
        // program's fd); the kernel keeps its own reference.
        let rc = unsafe { libc::ioctl(first, libc::TUNSETSTEERINGEBPF as _, &prog_fd) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(e.kind(), format!("TUNSETSTEERINGEBPF: {e}")));
        }
    }
    if cfg.configure {
        configure(&cfg.name, cfg)?;
    }
    let out = fds
        .into_iter()
        .enumerate()
        .map(|(index, fd)| TunQueue {
            io: if cfg.offload {
                QueueIo::Vnet(VnetTunDevice::from_queue(fd, &cfg.name, cfg.mtu))
            } else {
                QueueIo::Plain(PlainQueue { fd, mtu: cfg.mtu })
            },
            index,
        })
        .collect();
    Ok(out)
}

/// Opens one queue of the interface `name`, non-blocking, with virtio-net
/// headers if `vnet`.
fn open_queue(name: &str, vnet: bool) -> io::Result<OwnedFd> {
    let path = c"/dev/net/tun";
    // SAFETY: plain open(2) of a NUL-terminated path.
    let fd = unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_RDWR | libc::O_CLOEXEC | libc::O_NONBLOCK,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd was just returned by open(2) and is owned here.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut req = ifreq(name);
    let vnet = if vnet { libc::IFF_VNET_HDR } else { 0 };
    req.ifr_ifru.ifru_flags =
        (libc::IFF_TUN | libc::IFF_NO_PI | libc::IFF_MULTI_QUEUE | vnet) as libc::c_short;
    // SAFETY: TUNSETIFF takes a pointer to a valid ifreq.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF as _, &mut req) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(
            e.kind(),
            format!("TUNSETIFF (multiqueue) on {name}: {e}"),
        ));
    }
    Ok(fd)
}

impl Device for PlainQueue {
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: reads at most buf.len() bytes into a live, writable buffer.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }

    fn send(&mut self, packet: &[u8]) -> io::Result<()> {
        // SAFETY: writes packet.len() bytes from a live buffer.
        let n = unsafe { libc::write(self.fd.as_raw_fd(), packet.as_ptr().cast(), packet.len()) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn mtu(&self) -> usize {
        self.mtu
    }

    fn as_raw_fd(&self) -> Option<RawFd> {
        Some(self.fd.as_raw_fd())
    }
}

/// Everything goes to the queue's device: a plain queue takes the
/// defaults (no offloads, no scatter read), an offload queue is a
/// [`VnetTunDevice`].
impl Device for TunQueue {
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.dev().recv(buf)
    }
    fn send(&mut self, packet: &[u8]) -> io::Result<()> {
        self.dev().send(packet)
    }
    fn mtu(&self) -> usize {
        self.dev_ref().mtu()
    }
    fn as_raw_fd(&self) -> Option<RawFd> {
        self.dev_ref().as_raw_fd()
    }
    fn offload(&self) -> Offload {
        self.dev_ref().offload()
    }
    fn recv_meta(&mut self, buf: &mut [u8]) -> io::Result<RxMeta> {
        self.dev().recv_meta(buf)
    }
    fn send_tso(&mut self, packet: &[u8], mss: u16) -> io::Result<()> {
        self.dev().send_tso(packet, mss)
    }
    fn can_recv_vectored(&self) -> bool {
        self.dev_ref().can_recv_vectored()
    }
    fn recv_vectored(&mut self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<RxMeta> {
        self.dev().recv_vectored(bufs)
    }
}

// --- the steering program ----------------------------------------------------

/// One eBPF instruction (`struct bpf_insn`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Insn {
    code: u8,
    /// dst in the low nibble, src in the high one.
    regs: u8,
    off: i16,
    imm: i32,
}

// Instruction classes, sizes, modes and operations (linux/bpf.h).
const LD: u8 = 0x00;
const ALU: u8 = 0x04;
const JMP: u8 = 0x05;
const ALU64: u8 = 0x07;
const H: u8 = 0x08;
const B: u8 = 0x10;
const ABS: u8 = 0x20;
const IND: u8 = 0x40;
const K: u8 = 0x00;
const X: u8 = 0x08;
const ADD: u8 = 0x00;
const MUL: u8 = 0x20;
const AND: u8 = 0x50;
const LSH: u8 = 0x60;
const RSH: u8 = 0x70;
const XOR: u8 = 0xa0;
const MOV: u8 = 0xb0;
const JA: u8 = 0x00;
const JEQ: u8 = 0x10;
const JNE: u8 = 0x50;
const EXIT: u8 = 0x90;

/// Registers: r0 result, r1 context at entry, r6 context for the legacy
/// packet loads, r7 transport header offset, r8 scratch.
const R0: u8 = 0;
const R1: u8 = 1;
const R6: u8 = 6;
const R7: u8 = 7;
const R8: u8 = 8;

/// A tiny assembler with forward labels, enough for one program.
#[derive(Default)]
struct Asm {
    insns: Vec<Insn>,
    /// (instruction index, label) of jumps to patch.
    fixups: Vec<(usize, u8)>,
    labels: [Option<usize>; 8],
}

impl Asm {
    fn raw(&mut self, code: u8, dst: u8, src: u8, off: i16, imm: i32) {
        self.insns.push(Insn {
            code,
            regs: dst | (src << 4),
            off,
            imm,
        });
    }
    fn alu64_k(&mut self, op: u8, dst: u8, imm: i32) {
        self.raw(ALU64 | op | K, dst, 0, 0, imm);
    }
    fn alu64_x(&mut self, op: u8, dst: u8, src: u8) {
        self.raw(ALU64 | op | X, dst, src, 0, 0);
    }
    fn alu32_k(&mut self, op: u8, dst: u8, imm: i32) {
        self.raw(ALU | op | K, dst, 0, 0, imm);
    }
    /// r0 = the byte (B) or big-endian half word (H) at `off`.
    fn ld_abs(&mut self, size: u8, off: i32) {
        self.raw(LD | ABS | size, 0, 0, 0, off);
    }
    /// r0 = the byte or half word at `src + off`.
    fn ld_ind(&mut self, size: u8, src: u8, off: i32) {
        self.raw(LD | IND | size, 0, src, 0, off);
    }
    fn jump(&mut self, op: u8, dst: u8, imm: i32, label: u8) {
        self.fixups.push((self.insns.len(), label));
        self.raw(JMP | op | K, dst, 0, 0, imm);
    }
    fn label(&mut self, label: u8) {
        self.labels[usize::from(label)] = Some(self.insns.len());
    }
    fn exit(&mut self) {
        self.raw(JMP | EXIT, 0, 0, 0, 0);
    }
    fn finish(mut self) -> Vec<Insn> {
        for (at, label) in self.fixups {
            let target = self.labels[usize::from(label)].expect("label placed");
            self.insns[at].off = (target as i64 - at as i64 - 1) as i16;
        }
        self.insns
    }
}

/// The steering program (see the module docs).
fn steering_program() -> Vec<Insn> {
    const V4: u8 = 0;
    const V4_ICMP: u8 = 1;
    const V6: u8 = 2;
    const V6_ICMP: u8 = 3;
    const PORTS: u8 = 4;
    const ZERO: u8 = 5;
    let mut a = Asm::default();
    a.alu64_x(MOV, R6, R1);
    a.ld_abs(B, 0);
    a.alu64_k(RSH, R0, 4);
    a.jump(JEQ, R0, 4, V4);
    a.jump(JEQ, R0, 6, V6);
    a.jump(JA, 0, 0, ZERO);

    a.label(V4);
    // A fragment (MF or an offset) carries no ports past the first.
    a.ld_abs(H, 6);
    a.alu64_k(AND, R0, 0x3fff);
    a.jump(JNE, R0, 0, ZERO);
    a.ld_abs(B, 0);
    a.alu64_k(AND, R0, 0x0f);
    a.alu64_k(LSH, R0, 2);
    a.alu64_x(MOV, R7, R0);
    a.ld_abs(B, 9);
    a.jump(JEQ, R0, 6, PORTS);
    a.jump(JEQ, R0, 17, PORTS);
    a.jump(JEQ, R0, 1, V4_ICMP);
    a.jump(JA, 0, 0, ZERO);

    a.label(V4_ICMP);
    // The quoted IPv4 header starts after the 8-byte ICMP header.
    a.ld_ind(B, R7, 8);
    a.alu64_k(AND, R0, 0x0f);
    a.alu64_k(LSH, R0, 2);
    a.alu64_x(ADD, R7, R0);
    a.alu64_k(ADD, R7, 8);
    a.jump(JA, 0, 0, PORTS);

    a.label(V6);
    a.alu64_k(MOV, R7, 40);
    a.ld_abs(B, 6);
    a.jump(JEQ, R0, 6, PORTS);
    a.jump(JEQ, R0, 17, PORTS);
    a.jump(JEQ, R0, 58, V6_ICMP);
    a.jump(JA, 0, 0, ZERO);

    a.label(V6_ICMP);
    // Quoted IPv6 header at 40 + 8: its next header at 54, ports at 88.
    a.alu64_k(MOV, R7, 88);
    a.ld_abs(B, 54);
    a.jump(JEQ, R0, 6, PORTS);
    a.jump(JEQ, R0, 17, PORTS);
    a.jump(JA, 0, 0, ZERO);

    a.label(PORTS);
    a.ld_ind(H, R7, 0);
    a.alu64_x(MOV, R8, R0);
    a.ld_ind(H, R7, 2);
    a.alu64_x(XOR, R0, R8);
    // 32-bit multiply and shift: wraps as flow_hash does.
    a.alu32_k(MUL, R0, STEER_MULTIPLIER as i32);
    a.alu32_k(RSH, R0, 16);
    a.exit();

    a.label(ZERO);
    a.alu64_k(MOV, R0, 0);
    a.exit();
    a.finish()
}

/// `union bpf_attr` as `BPF_PROG_LOAD` reads it (the fields up to
/// `prog_flags`; the kernel zero-fills the rest).
#[repr(C)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
}

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_TYPE_SOCKET_FILTER: u32 = 1;

/// Loads the steering program; on failure the error carries the
/// verifier's log.
fn load_steering() -> io::Result<OwnedFd> {
    let prog = steering_program();
    let license = c"MIT OR Apache-2.0";
    let mut log = vec![0u8; 16 * 1024];
    let attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_SOCKET_FILTER,
        insn_cnt: prog.len() as u32,
        insns: prog.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        kern_version: 0,
        prog_flags: 0,
    };
    // SAFETY: bpf(BPF_PROG_LOAD) reads `attr` (size given) and the
    // instructions, license and log buffer it points to, all alive for
    // the call.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_LOAD,
            &attr as *const ProgLoadAttr,
            std::mem::size_of::<ProgLoadAttr>() as libc::c_uint,
        )
    };
    if fd < 0 {
        let e = io::Error::last_os_error();
        let end = log.iter().position(|&c| c == 0).unwrap_or(log.len());
        let log = String::from_utf8_lossy(&log[..end]);
        return Err(io::Error::new(
            e.kind(),
            format!("loading the TUN steering program: {e} {}", log.trim()),
        ));
    }
    // SAFETY: the syscall returned a fresh descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// `union bpf_attr` as `BPF_PROG_TEST_RUN` reads it.
#[repr(C)]
#[derive(Default)]
struct TestRunAttr {
    prog_fd: u32,
    retval: u32,
    data_size_in: u32,
    data_size_out: u32,
    data_in: u64,
    data_out: u64,
    repeat: u32,
    duration: u32,
}

const BPF_PROG_TEST_RUN: libc::c_long = 10;

/// Runs the steering program in the kernel (`BPF_PROG_TEST_RUN`) on one
/// IP packet and returns what it returns, the flow hash the kernel takes
/// modulo the number of queues: lets a test check that the program and
/// [`crate::wire::steer::flow_hash`] agree. Needs the privileges of
/// [`open_queues`].
///
/// # Errors
/// `InvalidInput` for a packet that is neither IPv4 nor IPv6 or longer
/// than 64 KiB; OS errors from `bpf(2)`.
pub fn run_steering(packet: &[u8]) -> io::Result<u32> {
    let ethertype: [u8; 2] = match packet.first().map(|b| b >> 4) {
        Some(4) => [0x08, 0x00],
        Some(6) => [0x86, 0xdd],
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not an IP packet",
            ))
        }
    };
    if packet.len() > 65535 {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "too long"));
    }
    // The test run takes an Ethernet frame and hands a socket filter the
    // packet after its header, where a TUN device's packets start.
    let mut frame = vec![0u8; 12];
    frame.extend_from_slice(&ethertype);
    frame.extend_from_slice(packet);
    let prog = load_steering()?;
    let mut attr = TestRunAttr {
        prog_fd: prog.as_raw_fd() as u32,
        data_size_in: frame.len() as u32,
        data_in: frame.as_ptr() as u64,
        repeat: 1,
        ..TestRunAttr::default()
    };
    // SAFETY: bpf(BPF_PROG_TEST_RUN) reads `attr` and the frame it points
    // to (no output buffer), writes `retval` and `duration` back into
    // `attr`; all alive for the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_TEST_RUN,
            &mut attr as *mut TestRunAttr,
            std::mem::size_of::<TestRunAttr>() as libc::c_uint,
        )
    };
    if rc < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("BPF_PROG_TEST_RUN: {e}")));
    }
    Ok(attr.retval)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_jumps_land_inside_and_it_ends_in_exit() {
        let p = steering_program();
        for (i, insn) in p.iter().enumerate() {
            if insn.code & 0x07 == JMP && insn.code != JMP | EXIT {
                let target = i as i64 + 1 + i64::from(insn.off);
                assert!((0..p.len() as i64).contains(&target), "jump at {i}");
                assert!(target > i as i64, "only forward jumps (no loops)");
            }
        }
        assert_eq!(p.last().map(|i| i.code), Some(JMP | EXIT));
    }
}
