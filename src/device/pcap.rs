//! `PcapDevice<D>`: wraps any device and records every packet it reads
//! and writes to a capture file (LINKTYPE_RAW: packets start at the IPv4
//! header), for Wireshark and tshark. A path ending in `.pcapng` writes
//! pcapng, where each packet the stack sends carries a comment saying why
//! ("retransmission #2, RTO 400 ms", "window update", "challenge ACK (RFC
//! 5961)"); anything else writes classic pcap. Format by `pcap-file`.
//!
//! Timestamps come from the real clock and are kept monotonic (a clock
//! step backwards never reorders the capture). A write error is counted
//! and logged once; it never disturbs the traffic or panics.
//!
//! One file, several devices: a [`PcapFile`] is shared by the devices of
//! every queue of a multiqueue stack ([`PcapDevice::with_file`]), each
//! recording from its own driver thread. Records are serialized by the
//! file's lock: each is stamped and written whole under it, so records
//! never interleave and timestamps rise through the whole file (a flow
//! lives on one queue, so its packets keep the order its driver saw).
//! Memory stays bounded by the file's write buffer: a record is written
//! before the packet goes on, nothing queues.

use super::Device;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionBlock;
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::DataLink;
use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::fd::RawFd;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The capture file, shared so it can be flushed while the pcap writer
/// owns a handle to it.
#[derive(Clone)]
struct Sink(Arc<Mutex<BufWriter<File>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).flush()
    }
}

/// Flush the file at least every this many packets, so a capture is
/// readable while the stack runs.
const FLUSH_EVERY: u64 = 32;

/// Capture counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PcapStats {
    /// Packets recorded.
    pub packets: u64,
    /// Packets that could not be recorded.
    pub errors: u64,
}

enum Writer {
    Pcap(PcapWriter<Sink>),
    PcapNg(PcapNgWriter<Sink>),
}

/// The state behind a [`PcapFile`]'s lock.
struct Capture {
    writer: Option<Writer>,
    sink: Sink,
    last: Duration,
    stats: PcapStats,
}

/// A capture file that one or more [`PcapDevice`]s record into (cheap to
/// clone: clones share the file, its lock and its counters).
#[derive(Clone)]
pub struct PcapFile {
    capture: Arc<Mutex<Capture>>,
    ng: bool,
}

impl PcapFile {
    /// Creates (truncates) the capture at `path`: pcapng if it ends in
    /// `.pcapng`, else classic pcap; LINKTYPE_RAW either way.
    ///
    /// # Errors
    /// The file could not be created or its header written.
    pub fn create(path: &Path) -> io::Result<PcapFile> {
        let sink = Sink(Arc::new(Mutex::new(BufWriter::new(File::create(path)?))));
        let ng = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("pcapng"));
        let err = |e: pcap_file::PcapError| io::Error::other(e.to_string());
        let writer = if ng {
            let mut w = PcapNgWriter::new(sink.clone()).map_err(err)?;
            let idb = InterfaceDescriptionBlock {
                linktype: DataLink::RAW,
                snaplen: 65535,
                options: vec![],
            };
            w.write_pcapng_block(idb).map_err(err)?;
            Writer::PcapNg(w)
        } else {
            let header = PcapHeader {
                datalink: DataLink::RAW,
                snaplen: 65535,
                ..PcapHeader::default()
            };
            Writer::Pcap(PcapWriter::with_header(sink.clone(), header).map_err(err)?)
        };
        let file = PcapFile {
            capture: Arc::new(Mutex::new(Capture {
                writer: Some(writer),
                sink,
                last: Duration::ZERO,
                stats: PcapStats::default(),
            })),
            ng,
        };
        // The header is on disk at once: an empty capture is still valid.
        file.flush()?;
        Ok(file)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Capture> {
        self.capture.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What has been recorded, by every device sharing the file.
    pub fn stats(&self) -> PcapStats {
        self.lock().stats
    }

    /// Writes buffered records to the file.
    ///
    /// # Errors
    /// The file write failed (also counted).
    pub fn flush(&self) -> io::Result<()> {
        self.lock().flush()
    }

    /// Stamps and writes one record, whole, under the lock.
    fn record(&self, packet: &[u8], reason: Option<&str>) {
        self.lock().record(packet, reason);
    }
}

impl Capture {
    fn record(&mut self, packet: &[u8], reason: Option<&str>) {
        let Some(w) = self.writer.as_mut() else {
            return;
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        // Monotonic: never earlier than the previous record.
        let ts = now.max(self.last);
        self.last = ts;
        let len = u32::try_from(packet.len()).unwrap_or(u32::MAX);
        let r = match w {
            Writer::Pcap(w) => w
                .write_packet(&PcapPacket::new(ts, len, packet))
                .map(|_| ()),
            Writer::PcapNg(w) => {
                let options = reason
                    .map(|r| EnhancedPacketOption::Comment(Cow::Owned(r.to_string())))
                    .into_iter()
                    .collect();
                let epb = EnhancedPacketBlock {
                    interface_id: 0,
                    timestamp: ts,
                    original_len: len,
                    data: Cow::Borrowed(packet),
                    options,
                };
                w.write_pcapng_block(epb).map(|_| ())
            }
        };
        match r {
            Ok(_) => {
                self.stats.packets += 1;
                if self.stats.packets % FLUSH_EVERY == 0 {
                    let _ = self.flush();
                }
            }
            Err(e) => {
                if self.stats.errors == 0 {
                    log::error!("pcap: cannot record packets: {e}");
                }
                self.stats.errors += 1;
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        let r = self.sink.flush();
        if r.is_err() {
            self.stats.errors += 1;
        }
        r
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.writer = None;
        let _ = self.sink.flush();
    }
}

/// A device that records its traffic to a pcap or pcapng file.
pub struct PcapDevice<D> {
    inner: D,
    file: PcapFile,
}

impl<D: Device> PcapDevice<D> {
    /// Wraps `inner`, creating (truncating) the capture at `path`.
    ///
    /// # Errors
    /// As [`PcapFile::create`].
    pub fn create(inner: D, path: &Path) -> io::Result<PcapDevice<D>> {
        Ok(PcapDevice::with_file(inner, PcapFile::create(path)?))
    }

    /// Wraps `inner`, recording into `file`, which other devices (the
    /// other queues of the same interface) may share.
    pub fn with_file(inner: D, file: PcapFile) -> PcapDevice<D> {
        PcapDevice { inner, file }
    }

    /// What has been recorded (into the file, by every device sharing it).
    pub fn stats(&self) -> PcapStats {
        self.file.stats()
    }

    fn record(&mut self, packet: &[u8], reason: Option<&str>) {
        self.file.record(packet, reason);
    }

    /// Writes buffered records to the file.
    ///
    /// # Errors
    /// The file write failed (also counted).
    pub fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl<D: Device> Device for PcapDevice<D> {
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.recv(buf)?;
        if let Some(p) = buf.get(..n) {
            if n > 0 {
                self.record(p, None);
            }
        }
        Ok(n)
    }

    fn send(&mut self, packet: &[u8]) -> io::Result<()> {
        self.record(packet, None);
        self.inner.send(packet)
    }

    fn wants_reasons(&self) -> bool {
        self.file.ng || self.inner.wants_reasons()
    }

    fn send_with_reason(&mut self, packet: &[u8], reason: &str) -> io::Result<()> {
        self.record(packet, Some(reason));
        self.inner.send_with_reason(packet, reason)
    }

    fn mtu(&self) -> usize {
        self.inner.mtu()
    }

    fn as_raw_fd(&self) -> Option<RawFd> {
        self.inner.as_raw_fd()
    }
}

impl<D> Drop for PcapDevice<D> {
    fn drop(&mut self) {
        // The file may outlive this device (another queue's): what this
        // one recorded is on disk now.
        let _ = self.file.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::PipeDevice;

    #[test]
    fn records_both_directions_as_raw_ipv4_readable_back() {
        let dir = std::env::temp_dir().join(format!("tunstack-pcap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.pcap");
        let (a, mut b) = PipeDevice::pair(1500).unwrap();
        let mut dev = PcapDevice::create(a, &path).unwrap();
        dev.send(&[0x45, 0, 0, 20]).unwrap();
        b.send(&[0x45, 1, 2, 3, 4]).unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(dev.recv(&mut buf).unwrap(), 5);
        assert_eq!(
            dev.stats(),
            PcapStats {
                packets: 2,
                errors: 0
            }
        );
        drop(dev);
        let mut r = pcap_file::pcap::PcapReader::new(File::open(&path).unwrap()).unwrap();
        assert_eq!(r.header().datalink, DataLink::RAW);
        let p1 = r.next_packet().unwrap().unwrap();
        let t1 = p1.timestamp;
        assert_eq!(&p1.data[..], &[0x45, 0, 0, 20]);
        let p2 = r.next_packet().unwrap().unwrap();
        assert_eq!(&p2.data[..], &[0x45, 1, 2, 3, 4]);
        assert!(p2.timestamp >= t1, "monotonic");
        assert!(r.next_packet().is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn pcapng_carries_the_reason_as_a_comment() {
        let dir = std::env::temp_dir().join(format!("tunstack-pcapng-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.pcapng");
        let (a, _b) = PipeDevice::pair(1500).unwrap();
        let mut dev = PcapDevice::create(a, &path).unwrap();
        assert!(dev.wants_reasons());
        dev.send_with_reason(&[0x45, 0, 0, 20], "retransmission #2, RTO 400 ms")
            .unwrap();
        drop(dev);
        let mut r = pcap_file::pcapng::PcapNgReader::new(File::open(&path).unwrap()).unwrap();
        let mut comments = Vec::new();
        while let Some(block) = r.next_block() {
            if let pcap_file::pcapng::Block::EnhancedPacket(epb) = block.unwrap() {
                assert_eq!(&epb.data[..], &[0x45, 0, 0, 20]);
                for o in epb.options {
                    if let EnhancedPacketOption::Comment(c) = o {
                        comments.push(c.to_string());
                    }
                }
            }
        }
        assert_eq!(comments, vec!["retransmission #2, RTO 400 ms".to_string()]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Two devices on two threads record into one file at once: every
    /// record is read back whole (its bytes say which device and which
    /// packet), each device's records keep their order, and timestamps
    /// never go backwards across the file.
    #[test]
    fn devices_on_two_threads_share_one_file_record_by_record() {
        let dir = std::env::temp_dir().join(format!("tunstack-pcap-mq-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.pcap");
        let file = PcapFile::create(&path).unwrap();
        const N: u32 = 3000;
        let writers: Vec<_> = (0..2u8)
            .map(|q| {
                let file = file.clone();
                std::thread::spawn(move || {
                    let (a, _b) = PipeDevice::pair(1500).unwrap();
                    let mut dev = PcapDevice::with_file(a, file);
                    for i in 0..N {
                        // Lengths vary so a torn record would misparse.
                        let len = 24 + (i as usize * 37) % 1400;
                        let mut p = vec![q; len];
                        p[0] = 0x45;
                        p[4..8].copy_from_slice(&i.to_be_bytes());
                        let _ = dev.send(&p);
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        assert_eq!(
            file.stats(),
            PcapStats {
                packets: 2 * u64::from(N),
                errors: 0
            }
        );
        drop(file);
        let mut r = pcap_file::pcap::PcapReader::new(File::open(&path).unwrap()).unwrap();
        let mut next = [0u32; 2];
        let mut last = Duration::ZERO;
        while let Some(p) = r.next_packet() {
            let p = p.unwrap();
            let q = p.data[8];
            assert!(q < 2, "record of neither device");
            let i = u32::from_be_bytes(p.data[4..8].try_into().unwrap());
            assert_eq!(i, next[usize::from(q)], "device {q} out of order");
            assert_eq!(p.data.len(), 24 + (i as usize * 37) % 1400);
            assert!(p.data[8..].iter().all(|&b| b == q), "torn record");
            assert!(p.timestamp >= last, "timestamps go backwards");
            last = p.timestamp;
            next[usize::from(q)] += 1;
        }
        assert_eq!(next, [N, N]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
