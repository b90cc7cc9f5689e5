//! `wan`: a userspace WAN emulator between two TUN devices.
//!
//! It creates TUN device A and TUN device B (each optionally inside a named
//! network namespace), and moves every IP packet read from one into the
//! other through a seeded delay line (`line.rs`): loss (random and
//! Gilbert-Elliott bursts), a rate-limited bottleneck with a bounded queue,
//! one-way delay with jitter, reordering and duplication, per direction.
//! Addresses and routes are the caller's business (`scripts/wan.sh` sets up
//! the usual topology). It prints `ready A B` once both devices exist, and
//! its counters when stopped (SIGINT or SIGTERM).
//!
//! Every shaping option takes `X` (both directions) or `X/Y` (A→B, then
//! B→A). Probabilities are fractions (`0.005`) or percentages (`0.5%`).
//!
//! ```text
//! wan --a wanA --b wanB --b-netns tsw-srv --delay-ms 25 --rate-mbit 100 \
//!     --queue-ms 60 --loss 0.5% --seed 1
//! ```

mod line;

use line::{Emulator, GilbertElliott, LoopConfig, Model, Shape, Tun};
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const USAGE: &str = "usage: wan [--a NAME] [--b NAME] [--a-netns NS] [--b-netns NS] [--seed N]
           [--delay-ms X[/Y]] [--jitter-ms X[/Y]] [--jitter-reorders]
           [--rate-mbit X[/Y]] [--queue-ms X[/Y] | --queue-bytes X[/Y]]
           [--loss P[/P]] [--burst PGB,PBG,LOSSBAD[/...]] [--reorder P[/P]] [--reorder-gap-ms X[/Y]]
           [--duplicate P[/P]] [--spin-us N] [--batch-us N] [--rt-priority N] [--line-limit-mib N] [--max-packet N] [--stats-file PATH]
  (defaults: wanA, wanB, no shaping, seed 1, queue 60 ms when a rate is set, spin 50 us,
   batch 0: wake for every packet; --batch-us 100 wakes at most every 100 us, for 1 Gbit/s)";

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

struct Args {
    a: String,
    b: String,
    a_netns: Option<String>,
    b_netns: Option<String>,
    seed: u64,
    shapes: [Shape; 2],
    cfg: LoopConfig,
    stats_file: Option<String>,
}

/// Splits `X` or `X/Y` into the values for A→B and B→A.
fn pair(v: &str) -> (&str, &str) {
    match v.split_once('/') {
        Some((x, y)) => (x, y),
        None => (v, v),
    }
}

fn number(flag: &str, v: &str) -> Result<f64, String> {
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite() && *x >= 0.0)
        .ok_or_else(|| format!("{flag}: {v:?} is not a non-negative number"))
}

fn probability(flag: &str, v: &str) -> Result<f64, String> {
    let p = match v.trim().strip_suffix('%') {
        Some(pct) => number(flag, pct)? / 100.0,
        None => number(flag, v)?,
    };
    if p > 1.0 {
        return Err(format!("{flag}: {v:?} is more than 100%"));
    }
    Ok(p)
}

fn millis(flag: &str, v: &str) -> Result<Duration, String> {
    Ok(Duration::from_secs_f64(number(flag, v)? / 1000.0))
}

fn burst(flag: &str, v: &str) -> Result<GilbertElliott, String> {
    let parts: Vec<&str> = v.split(',').collect();
    let [gb, bg, lb] = parts[..] else {
        return Err(format!(
            "{flag}: want P_GOOD_TO_BAD,P_BAD_TO_GOOD,LOSS_IN_BAD, got {v:?}"
        ));
    };
    Ok(GilbertElliott {
        p_good_to_bad: probability(flag, gb)?,
        p_bad_to_good: probability(flag, bg)?,
        loss_bad: probability(flag, lb)?,
    })
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        a: "wanA".into(),
        b: "wanB".into(),
        a_netns: None,
        b_netns: None,
        seed: 1,
        shapes: [Shape::default(), Shape::default()],
        cfg: LoopConfig::default(),
        stats_file: None,
    };
    let mut queue_ms = [60.0, 60.0];
    let mut queue_bytes: Option<[u64; 2]> = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            return Err(String::new());
        }
        if flag == "--jitter-reorders" {
            a.shapes[0].jitter_reorders = true;
            a.shapes[1].jitter_reorders = true;
            continue;
        }
        let v = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let (x, y) = pair(&v);
        let f = flag.as_str();
        let [s0, s1] = &mut a.shapes;
        match f {
            "--a" => a.a = v,
            "--b" => a.b = v,
            "--a-netns" => a.a_netns = Some(v),
            "--b-netns" => a.b_netns = Some(v),
            "--seed" => a.seed = v.parse().map_err(|_| format!("--seed: bad {v:?}"))?,
            "--stats-file" => a.stats_file = Some(v),
            "--spin-us" => a.cfg.spin = Duration::from_micros(number(f, &v)? as u64),
            "--batch-us" => {
                a.cfg.batch = Duration::from_micros(number(f, &v)? as u64);
                a.cfg.read_batch = 256;
            }
            "--line-limit-mib" => a.cfg.line_limit_bytes = (number(f, &v)? * 1048576.0) as u64,
            "--rt-priority" => a.cfg.rt_priority = (number(f, &v)? as i32).clamp(0, 99),
            "--max-packet" => a.cfg.max_packet = (number(f, &v)? as usize).clamp(576, 65_536),
            "--delay-ms" => (s0.delay, s1.delay) = (millis(f, x)?, millis(f, y)?),
            "--jitter-ms" => (s0.jitter, s1.jitter) = (millis(f, x)?, millis(f, y)?),
            "--reorder-gap-ms" => (s0.reorder_gap, s1.reorder_gap) = (millis(f, x)?, millis(f, y)?),
            "--rate-mbit" => {
                s0.rate_bps = (number(f, x)? * 1e6) as u64;
                s1.rate_bps = (number(f, y)? * 1e6) as u64;
            }
            "--queue-ms" => queue_ms = [number(f, x)?, number(f, y)?],
            "--queue-bytes" => queue_bytes = Some([number(f, x)? as u64, number(f, y)? as u64]),
            "--loss" => (s0.loss, s1.loss) = (probability(f, x)?, probability(f, y)?),
            "--burst" => (s0.burst, s1.burst) = (Some(burst(f, x)?), Some(burst(f, y)?)),
            "--reorder" => (s0.reorder, s1.reorder) = (probability(f, x)?, probability(f, y)?),
            "--duplicate" => {
                (s0.duplicate, s1.duplicate) = (probability(f, x)?, probability(f, y)?)
            }
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    for (i, s) in a.shapes.iter_mut().enumerate() {
        s.queue_bytes = match queue_bytes {
            Some(q) => q[i],
            None => (s.rate_bps as f64 / 8.0 * queue_ms[i] / 1000.0) as u64,
        };
    }
    Ok(a)
}

fn describe(s: &Shape) -> String {
    format!(
        "delay {:?} jitter {:?}{} rate {} queue {} B loss {} burst {:?} reorder {} dup {}",
        s.delay,
        s.jitter,
        if s.jitter_reorders { " (reorders)" } else { "" },
        if s.rate_bps == 0 {
            "unlimited".to_string()
        } else {
            format!("{} bit/s", s.rate_bps)
        },
        s.queue_bytes,
        s.loss,
        s.burst,
        s.reorder,
        s.duplicate
    )
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("wan: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let open = |name: &str, ns: &Option<String>| {
        Tun::create(name, ns.as_deref()).map_err(|e| {
            eprintln!("wan: cannot create TUN {name} (netns {ns:?}): {e}");
        })
    };
    let (Ok(a), Ok(b)) = (open(&args.a, &args.a_netns), open(&args.b, &args.b_netns)) else {
        return ExitCode::FAILURE;
    };
    // SAFETY: installing an async-signal-safe handler (one atomic store).
    unsafe {
        let h = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::signal(libc::SIGINT, h);
        libc::signal(libc::SIGTERM, h);
    }
    let [s0, s1] = args.shapes;
    eprintln!("wan: {}→{}: {}", a.name(), b.name(), describe(&s0));
    eprintln!("wan: {}→{}: {}", b.name(), a.name(), describe(&s1));
    let names = (a.name().to_string(), b.name().to_string());
    // Different seeds per direction, both derived from --seed.
    let up = Model::new(s0, args.seed);
    let down = Model::new(s1, args.seed ^ 0x5bd1_e995_5bd1_e995);
    let emu = Emulator::start(a, b, up, down, args.cfg);
    println!("ready {} {}", names.0, names.1);
    let _ = std::io::stdout().flush();
    let flag = emu.stop_flag();
    while !STOP.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(50));
    }
    flag.store(true, Ordering::SeqCst);
    let [ab, ba] = emu.wait();
    let text = format!("{}\n{}\n", ab.line("a2b"), ba.line("b2a"));
    print!("{text}");
    let _ = std::io::stdout().flush();
    if let Some(path) = args.stats_file {
        if let Err(e) = std::fs::write(&path, &text) {
            eprintln!("wan: cannot write {path}: {e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
