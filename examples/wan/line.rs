//! The delay line of the WAN emulator: a seeded per-direction path model
//! ([`Model`]) and the I/O loop that moves packets between two TUN devices
//! through it ([`Emulator`]).
//!
//! A packet read from one device goes, in this order, through:
//! 1. loss: random (Bernoulli) and bursty (a Gilbert-Elliott chain whose
//!    bad state loses packets);
//! 2. a bottleneck: a serializer at `rate_bps` in front of a queue bounded
//!    in bytes; a packet that does not fit is dropped (tail drop);
//! 3. propagation: a fixed one-way delay plus uniform jitter. Jitter never
//!    reorders unless `jitter_reorders` is set: a packet leaves no earlier
//!    than the one before it, as on a real link;
//! 4. reordering (a chosen packet is held back by `reorder_gap`) and
//!    duplication (a second copy leaves right after the first).
//!
//! The model is pure: it takes a packet length and a time in nanoseconds and
//! returns departure times. Every packet draws the same number of random
//! numbers whatever happens to it, so for a given seed the drop, duplicate
//! and reorder decisions depend only on the packet's position in the stream
//! (queue drops also depend on timing). The I/O loop sleeps with
//! `ppoll` (timer slack 1 ns) until shortly before the next departure and
//! spins for the last `spin` to leave within microseconds of the schedule;
//! it counts how late every packet left. At 1 Gbit/s (~83k packets/s a
//! direction) a batch interval (`LoopConfig::batch`) replaces the per-packet
//! wake-ups: the thread wakes at most once per interval and serves
//! everything due, trading tens of microseconds of lateness for the CPU
//! the endpoints need.

#![allow(dead_code)]

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Gilbert-Elliott bursty loss: a two-state chain stepped once per packet.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GilbertElliott {
    /// Probability of moving from the good to the bad state.
    pub p_good_to_bad: f64,
    /// Probability of moving from the bad to the good state.
    pub p_bad_to_good: f64,
    /// Loss probability while in the bad state.
    pub loss_bad: f64,
}

/// The shape of one direction of the path.
#[derive(Clone, Debug, PartialEq)]
pub struct Shape {
    /// One-way propagation delay.
    pub delay: Duration,
    /// Uniform jitter: each packet's delay is `delay ± jitter` (at least 0).
    pub jitter: Duration,
    /// Let jitter reorder packets (off: a packet never overtakes another).
    pub jitter_reorders: bool,
    /// Bottleneck rate in bit/s; 0 is unlimited (no serializer, no queue).
    pub rate_bps: u64,
    /// Bottleneck queue limit in bytes (packets waiting to be serialized).
    pub queue_bytes: u64,
    /// Random loss probability.
    pub loss: f64,
    /// Bursty loss, if any (in addition to `loss`).
    pub burst: Option<GilbertElliott>,
    /// Probability that a packet is held back by `reorder_gap`.
    pub reorder: f64,
    /// How long a reordered packet is held back beyond its schedule.
    pub reorder_gap: Duration,
    /// Probability that a packet is sent twice.
    pub duplicate: f64,
}

impl Default for Shape {
    fn default() -> Shape {
        Shape {
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            jitter_reorders: false,
            rate_bps: 0,
            queue_bytes: 0,
            loss: 0.0,
            burst: None,
            reorder: 0.0,
            reorder_gap: Duration::from_millis(1),
            duplicate: 0.0,
        }
    }
}

/// What happened to the packets of one direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Packets read from the input device.
    pub rx_packets: u64,
    /// Bytes read from the input device.
    pub rx_bytes: u64,
    /// Dropped by random loss.
    pub lost_random: u64,
    /// Dropped in the bad state of the Gilbert-Elliott chain.
    pub lost_burst: u64,
    /// Dropped because the bottleneck queue was full.
    pub queue_drops: u64,
    /// Dropped because the delay line itself was full (`line_limit_bytes`).
    pub line_drops: u64,
    /// Extra copies scheduled.
    pub duplicated: u64,
    /// Packets held back to be reordered.
    pub reordered: u64,
    /// Packets written to the output device.
    pub tx_packets: u64,
    /// Writes the output device refused.
    pub tx_errors: u64,
}

/// splitmix64: small, fast and the same on every machine.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Departure times (ns) of one admitted packet: the packet and, if
/// duplicated, its copy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Departures {
    pub first: Option<u64>,
    pub copy: Option<u64>,
}

/// The seeded path model of one direction.
#[derive(Clone, Debug)]
pub struct Model {
    shape: Shape,
    rng: Rng,
    /// Gilbert-Elliott state: true while bad.
    bad: bool,
    /// When the bottleneck finishes serializing what it holds (ns).
    link_free_at: u64,
    /// Latest scheduled in-order departure (ns), for non-reordering jitter.
    last_departure: u64,
    pub counters: Counters,
}

impl Model {
    pub fn new(shape: Shape, seed: u64) -> Model {
        Model {
            shape,
            rng: Rng::new(seed),
            bad: false,
            link_free_at: 0,
            last_departure: 0,
            counters: Counters::default(),
        }
    }

    pub fn shape(&self) -> &Shape {
        &self.shape
    }

    /// Admits a packet of `len` bytes arriving at `now` (ns); returns when
    /// it (and its copy) leave, or nothing if it is dropped.
    pub fn admit(&mut self, now: u64, len: usize) -> Departures {
        // Always the same draws, in the same order, so the decisions for
        // packet n depend only on the seed and n.
        let u_loss = self.rng.unit();
        let u_state = self.rng.unit();
        let u_burst = self.rng.unit();
        let u_dup = self.rng.unit();
        let u_reorder = self.rng.unit();
        let u_jitter = self.rng.unit();
        let u_jitter_copy = self.rng.unit();

        self.counters.rx_packets += 1;
        self.counters.rx_bytes += len as u64;
        let s = &self.shape;
        if let Some(ge) = s.burst {
            let flip = if self.bad {
                ge.p_bad_to_good
            } else {
                ge.p_good_to_bad
            };
            if u_state < flip {
                self.bad = !self.bad;
            }
        }
        if u_loss < s.loss {
            self.counters.lost_random += 1;
            return Departures::default();
        }
        if let Some(ge) = s.burst {
            if self.bad && u_burst < ge.loss_bad {
                self.counters.lost_burst += 1;
                return Departures::default();
            }
        }

        let mut leaves_bottleneck = now;
        if s.rate_bps > 0 {
            let backlog_ns = self.link_free_at.saturating_sub(now);
            let backlog_bytes =
                (u128::from(backlog_ns) * u128::from(s.rate_bps) / 8_000_000_000) as u64;
            if backlog_bytes + len as u64 > s.queue_bytes.max(len as u64) {
                self.counters.queue_drops += 1;
                return Departures::default();
            }
            let tx_ns = (len as u128 * 8_000_000_000 / u128::from(s.rate_bps)) as u64;
            self.link_free_at = self.link_free_at.max(now) + tx_ns;
            leaves_bottleneck = self.link_free_at;
        }

        let first = self.propagate(leaves_bottleneck, u_jitter, u_reorder < s.reorder);
        let copy = if u_dup < self.shape.duplicate {
            self.counters.duplicated += 1;
            Some(self.propagate(leaves_bottleneck, u_jitter_copy, false))
        } else {
            None
        };
        Departures {
            first: Some(first),
            copy,
        }
    }

    /// Delay, jitter and reordering after the bottleneck.
    fn propagate(&mut self, t: u64, u_jitter: f64, reorder: bool) -> u64 {
        let s = &self.shape;
        let j = s.jitter.as_nanos() as f64;
        let offset = ((2.0 * u_jitter - 1.0) * j) as i64;
        let base = t + s.delay.as_nanos() as u64;
        let mut at = base.saturating_add_signed(offset).max(t);
        if reorder {
            self.counters.reordered += 1;
            // Held back; later packets are free to overtake it.
            return at.max(self.last_departure) + s.reorder_gap.as_nanos() as u64;
        }
        if !s.jitter_reorders {
            at = at.max(self.last_departure);
            self.last_departure = at;
        }
        at
    }
}

/// How late packets left, in microseconds, as a histogram.
#[derive(Clone, Debug)]
pub struct Lateness {
    /// buckets[i]: packets that left i µs late (the last one: that or more).
    buckets: Vec<u64>,
    max_us: u64,
}

impl Default for Lateness {
    fn default() -> Lateness {
        Lateness {
            buckets: vec![0; 10_001],
            max_us: 0,
        }
    }
}

impl Lateness {
    fn record(&mut self, late_ns: u64) {
        let us = late_ns / 1000;
        self.max_us = self.max_us.max(us);
        let i = (us as usize).min(self.buckets.len() - 1);
        self.buckets[i] += 1;
    }

    /// The `q` quantile (0..=1) in µs, or 0 without samples.
    pub fn quantile_us(&self, q: f64) -> u64 {
        let total: u64 = self.buckets.iter().sum();
        if total == 0 {
            return 0;
        }
        let want = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= want {
                return i as u64;
            }
        }
        self.max_us
    }

    pub fn max_us(&self) -> u64 {
        self.max_us
    }
}

/// Counters and lateness of one direction, as reported at the end.
#[derive(Clone, Debug, Default)]
pub struct DirectionStats {
    pub counters: Counters,
    pub lateness: Lateness,
}

impl DirectionStats {
    /// One line of `key=value` pairs.
    pub fn line(&self, name: &str) -> String {
        let c = &self.counters;
        format!(
            "{name} rx_packets={} rx_bytes={} lost_random={} lost_burst={} queue_drops={} \
             line_drops={} duplicated={} reordered={} tx_packets={} tx_errors={} \
             late_p50_us={} late_p99_us={} late_max_us={}",
            c.rx_packets,
            c.rx_bytes,
            c.lost_random,
            c.lost_burst,
            c.queue_drops,
            c.line_drops,
            c.duplicated,
            c.reordered,
            c.tx_packets,
            c.tx_errors,
            self.lateness.quantile_us(0.5),
            self.lateness.quantile_us(0.99),
            self.lateness.max_us()
        )
    }
}

/// A TUN device (no packet information header), nonblocking.
pub struct Tun {
    iface: tun_tap::Iface,
}

impl Tun {
    /// Creates the TUN device `name`, inside the network namespace
    /// `/run/netns/NETNS` if given (the calling thread enters it for the
    /// creation and returns to its own), and turns IPv6 off on it so the
    /// kernel does not send router solicitations through the line.
    pub fn create(name: &str, netns: Option<&str>) -> io::Result<Tun> {
        let Some(ns) = netns else {
            return Tun::create_here(name);
        };
        let home = std::fs::File::open("/proc/thread-self/ns/net")?;
        let target = std::fs::File::open(format!("/run/netns/{ns}"))?;
        setns(&target)?;
        let made = Tun::create_here(name);
        setns(&home)?;
        made
    }

    fn create_here(name: &str) -> io::Result<Tun> {
        let iface = tun_tap::Iface::without_packet_info(name, tun_tap::Mode::Tun)?;
        iface.set_non_blocking()?;
        // Written while still in the device's namespace.
        let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{name}/disable_ipv6"), "1");
        Ok(Tun { iface })
    }

    pub fn name(&self) -> &str {
        self.iface.name()
    }

    fn fd(&self) -> i32 {
        self.iface.as_raw_fd()
    }
}

fn setns(f: &std::fs::File) -> io::Result<()> {
    // SAFETY: setns on a valid namespace fd changes only this thread's
    // network namespace.
    if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// How the I/O loop runs.
#[derive(Clone, Debug)]
pub struct LoopConfig {
    /// Spin (instead of sleeping) for the last part of every wait.
    pub spin: Duration,
    /// Most bytes held in the delay line of one direction.
    pub line_limit_bytes: u64,
    /// Largest packet read (the devices' MTU or more).
    pub max_packet: usize,
    /// SCHED_FIFO priority of the two line threads (0: the normal
    /// scheduler). On a busy machine a preempted line thread delays every
    /// packet it holds; a real-time one is preempted only by the kernel.
    pub rt_priority: i32,
    /// Shortest interval between two wake-ups of a line thread (0: wake
    /// for every departure and every arrival). At 1 Gbit/s a direction
    /// moves ~83k packets/s; waking for each one costs more CPU than the
    /// packets do (every timed sleep programs a timer, which in a virtual
    /// machine is a trap to the hypervisor), CPU the two endpoints need.
    /// With a batch interval the thread wakes at most once per interval,
    /// then writes every packet that is due and reads every packet that
    /// waits, as a NIC coalescing its interrupts does: a packet leaves at
    /// most this much later than its schedule (the lateness counters show
    /// it), and the rate model is unchanged (departures are computed in
    /// the model's own time, not from when the thread woke).
    pub batch: Duration,
    /// Most packets read per wake-up before the schedule is served again
    /// (raised with `batch`: a batch interval of 100 µs at 1 Gbit/s
    /// gathers about 8 data packets and their ACKs).
    pub read_batch: usize,
}

impl Default for LoopConfig {
    fn default() -> LoopConfig {
        LoopConfig {
            spin: Duration::from_micros(50),
            line_limit_bytes: 64 << 20,
            max_packet: 65_536,
            rt_priority: 0,
            batch: Duration::ZERO,
            read_batch: 64,
        }
    }
}

/// A packet waiting in the line, ordered by departure, then arrival.
struct Held {
    at: u64,
    seq: u64,
    data: Vec<u8>,
}

impl PartialEq for Held {
    fn eq(&self, o: &Held) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Held {}
impl PartialOrd for Held {
    fn partial_cmp(&self, o: &Held) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Held {
    fn cmp(&self, o: &Held) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

/// A running emulator: one thread per direction.
pub struct Emulator {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    stats: [Arc<Mutex<DirectionStats>>; 2],
}

impl Emulator {
    /// Starts moving packets A→B through `a_to_b` and B→A through `b_to_a`.
    pub fn start(a: Tun, b: Tun, a_to_b: Model, b_to_a: Model, cfg: LoopConfig) -> Emulator {
        let stop = Arc::new(AtomicBool::new(false));
        let a = Arc::new(a);
        let b = Arc::new(b);
        let stats = [
            Arc::new(Mutex::new(DirectionStats::default())),
            Arc::new(Mutex::new(DirectionStats::default())),
        ];
        let base = Instant::now();
        let mut threads = Vec::new();
        for (input, output, model, st) in [
            (a.clone(), b.clone(), a_to_b, stats[0].clone()),
            (b, a, b_to_a, stats[1].clone()),
        ] {
            let stop = stop.clone();
            let cfg = cfg.clone();
            threads.push(std::thread::spawn(move || {
                run_direction(&input, &output, model, &cfg, base, &stop, &st);
            }));
        }
        Emulator {
            stop,
            threads,
            stats,
        }
    }

    /// A handle that stops the emulator when set.
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    /// The statistics so far: A→B, B→A.
    pub fn stats(&self) -> [DirectionStats; 2] {
        [lock(&self.stats[0]).clone(), lock(&self.stats[1]).clone()]
    }

    /// Stops both threads (packets still in the line are dropped) and
    /// returns the final statistics.
    pub fn stop(mut self) -> [DirectionStats; 2] {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        self.stats()
    }

    /// Waits until the stop flag is set by someone else, then stops.
    pub fn wait(self) -> [DirectionStats; 2] {
        while !self.stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(50));
        }
        self.stop()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn now_ns(base: Instant) -> u64 {
    base.elapsed().as_nanos() as u64
}

/// Waits until `fd` is readable or `timeout` passes; true if readable.
fn wait_readable(fd: i32, timeout: Duration) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: one valid pollfd, a valid timespec, no signal mask.
    let n = unsafe { libc::ppoll(&mut pfd, 1, &ts, std::ptr::null()) };
    n > 0 && pfd.revents & libc::POLLIN != 0
}

/// The loop of one direction: read what arrives, schedule it, write what is
/// due. Statistics are published to `shared` every 100 ms and at the end.
fn run_direction(
    input: &Tun,
    output: &Tun,
    mut model: Model,
    cfg: &LoopConfig,
    base: Instant,
    stop: &AtomicBool,
    shared: &Mutex<DirectionStats>,
) {
    tune_line_thread(cfg.rt_priority);
    let mut line = Line::new(cfg.max_packet);
    let mut published = 0u64;
    loop {
        let now = now_ns(base);
        line.write_due(output, base);
        if stop.load(Ordering::Relaxed) {
            break;
        }
        if now >= published + 100_000_000 {
            line.publish(shared, &model);
            published = now;
        }
        if line.wait_for_input(input, cfg, base) {
            line.read_batch(input, &mut model, cfg, base);
        }
    }
    line.publish(shared, &model);
}

/// Timer slack of 1 ns (departures are scheduled to the microsecond) and,
/// if asked, SCHED_FIFO for the calling line thread.
fn tune_line_thread(rt_priority: i32) {
    // SAFETY: PR_SET_TIMERSLACK with a plain integer affects this thread.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0) };
    if rt_priority > 0 {
        let param = libc::sched_param {
            sched_priority: rt_priority,
        };
        // SAFETY: pid 0 is this thread; param is a valid sched_param.
        if unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) } != 0 {
            eprintln!(
                "wan: SCHED_FIFO {rt_priority}: {}",
                io::Error::last_os_error()
            );
        }
    }
}

/// One direction's packets in flight on the line and its counters.
struct Line {
    /// Packets waiting for their departure, earliest first.
    heap: BinaryHeap<Reverse<Held>>,
    held_bytes: u64,
    /// Arrival order, to keep packets with the same departure in order.
    seq: u64,
    buf: Vec<u8>,
    lateness: Lateness,
    line_drops: u64,
    /// Packets written, write errors.
    tx: (u64, u64),
    /// When the thread last woke in batch mode ([`LoopConfig::batch`]).
    woke: u64,
}

impl Line {
    fn new(max_packet: usize) -> Line {
        Line {
            heap: BinaryHeap::new(),
            held_bytes: 0,
            seq: 0,
            buf: vec![0u8; max_packet],
            lateness: Lateness::default(),
            line_drops: 0,
            tx: (0, 0),
            woke: 0,
        }
    }

    /// Writes every packet whose departure has come to `output`.
    fn write_due(&mut self, output: &Tun, base: Instant) {
        while self.heap.peek().is_some_and(|h| h.0.at <= now_ns(base)) {
            let Some(Reverse(h)) = self.heap.pop() else {
                break;
            };
            self.held_bytes -= h.data.len() as u64;
            // Measured before the write: the write itself runs the
            // receiving kernel stack, which is not the line's lateness.
            self.lateness.record(now_ns(base).saturating_sub(h.at));
            // SAFETY: writing an initialised buffer to an open fd.
            let n = unsafe { libc::write(output.fd(), h.data.as_ptr().cast(), h.data.len()) };
            if n < 0 {
                self.tx.1 += 1;
            } else {
                self.tx.0 += 1;
            }
        }
    }

    /// Sleeps until a packet may be read from `input` or a departure is
    /// near; true if `input` is readable (or, in batch mode, a departure
    /// is due and whatever arrived meanwhile should be read too).
    fn wait_for_input(&mut self, input: &Tun, cfg: &LoopConfig, base: Instant) -> bool {
        let now = now_ns(base);
        let until_next = self
            .heap
            .peek()
            .map(|h| Duration::from_nanos(h.0.at.saturating_sub(now)))
            .unwrap_or(Duration::from_millis(100))
            .min(Duration::from_millis(100));
        let batch = cfg.batch.as_nanos() as u64;
        if batch > 0 {
            self.wait_batched(input, batch, now, base)
        } else if until_next > cfg.spin {
            wait_readable(input.fd(), until_next - cfg.spin)
        } else {
            wait_readable(input.fd(), Duration::ZERO)
        }
    }

    /// Batch mode: wake at most once per `batch` ns. Sleeps (with no
    /// wake-up for arrivals) until one has passed since the last wake-up;
    /// if a departure is due by then, serve it and whatever arrived
    /// meanwhile, else wait for the next arrival or departure.
    fn wait_batched(&mut self, input: &Tun, batch: u64, now: u64, base: Instant) -> bool {
        let earliest = self.woke + batch;
        if earliest > now {
            std::thread::sleep(Duration::from_nanos(earliest - now));
        }
        let now = now_ns(base);
        let r = match self.heap.peek() {
            Some(h) if h.0.at <= now => true,
            next => {
                let wait = next.map_or(100_000_000, |h| h.0.at - now).min(100_000_000);
                wait_readable(input.fd(), Duration::from_nanos(wait))
            }
        };
        self.woke = now_ns(base);
        r
    }

    /// Reads up to `cfg.read_batch` packets from `input` and schedules
    /// each (and its duplicate, if the model makes one) for departure,
    /// dropping what would pass the line's byte limit.
    fn read_batch(&mut self, input: &Tun, model: &mut Model, cfg: &LoopConfig, base: Instant) {
        for _ in 0..cfg.read_batch {
            // SAFETY: reading into a buffer of buf.len() bytes.
            let n = unsafe { libc::read(input.fd(), self.buf.as_mut_ptr().cast(), self.buf.len()) };
            if n <= 0 {
                break;
            }
            let len = n as usize;
            let t = now_ns(base);
            let d = model.admit(t, len);
            for at in [d.first, d.copy].into_iter().flatten() {
                if self.held_bytes + len as u64 > cfg.line_limit_bytes {
                    self.line_drops += 1;
                    continue;
                }
                self.held_bytes += len as u64;
                self.seq += 1;
                self.heap.push(Reverse(Held {
                    at,
                    seq: self.seq,
                    data: self.buf[..len].to_vec(),
                }));
            }
        }
    }

    fn publish(&self, shared: &Mutex<DirectionStats>, model: &Model) {
        publish(shared, model, self.line_drops, self.tx, &self.lateness);
    }
}

fn publish(
    shared: &Mutex<DirectionStats>,
    model: &Model,
    line_drops: u64,
    tx: (u64, u64),
    lateness: &Lateness,
) {
    let mut s = lock(shared);
    s.counters = model.counters;
    s.counters.line_drops = line_drops;
    s.counters.tx_packets = tx.0;
    s.counters.tx_errors = tx.1;
    s.lateness = lateness.clone();
}
