//! A byte ring with a logical capacity and storage that grows in steps.
//!
//! The send buffer keeps unacknowledged bytes at the front (read at an offset
//! for retransmission, discarded on ACK); the receive buffer can have bytes
//! written ahead of its end (`write_unallocated`) before they are committed.
//!
//! Memory is touched only when used, whatever the allocator does: the
//! storage starts empty and doubles (from [`MIN_STEP`] bytes) only when a
//! write reaches past it, up to the capacity. A heap allocator that hands
//! out recycled memory (glibc does once its mmap threshold has risen after
//! large frees) must zero all of it, so a ring allocated at full capacity
//! up front would cost its whole capacity in resident memory; grown in
//! steps it costs at most twice what was ever held. A step grows the
//! allocation in place where the allocator can and moves only the shorter
//! run of the ring, not every held byte.

/// Smallest storage allocated: a connection that exchanges a few bytes each
/// way holds one page of buffer for both rings together.
pub const MIN_STEP: usize = 2048;

/// A byte ring buffer: at most `capacity` bytes, stored in a power-of-two
/// sized allocation that grows on demand.
pub struct RingBuffer {
    /// Empty until the first byte is written, then grown in steps. Logical
    /// offset `off` (from the read position) lives at
    /// `(read_at + off) % storage.len()`.
    storage: Vec<u8>,
    capacity: usize,
    read_at: usize,
    len: usize,
    /// Bytes [`reserve`](Self::reserve) moved so far.
    moved: u64,
}

impl std::fmt::Debug for RingBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The contents are payload bytes: never dump them into logs.
        f.debug_struct("RingBuffer")
            .field("len", &self.len)
            .field("capacity", &self.capacity())
            .finish()
    }
}

impl RingBuffer {
    /// A ring holding at most `capacity` bytes. No storage is allocated
    /// until the first byte is written.
    pub fn new(capacity: usize) -> RingBuffer {
        RingBuffer {
            storage: Vec::new(),
            capacity,
            read_at: 0,
            len: 0,
            moved: 0,
        }
    }

    /// Maximum number of bytes held.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Bytes of storage allocated now (at most `capacity`, or `MIN_STEP`
    /// when the capacity is smaller than that and was reached).
    pub fn allocated(&self) -> usize {
        self.storage.len()
    }

    /// True once some storage has been allocated.
    pub fn is_allocated(&self) -> bool {
        !self.storage.is_empty()
    }

    /// Changes the capacity, never below what is held (`len()`). Storage
    /// is not touched: it grows when writes need it. Bytes parked past
    /// the end beyond the new capacity can no longer be committed.
    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity.max(self.len);
    }

    /// Frees the storage if nothing is held; bytes parked past the end
    /// are dropped with it (the caller knows whether any are).
    pub fn release_if_empty(&mut self) {
        if self.len == 0 && !self.storage.is_empty() {
            self.storage = Vec::new();
            self.read_at = 0;
        }
    }

    /// Makes the storage hold logical offsets `0..end` (`end` ≤ capacity),
    /// doubling it as needed and keeping every byte at its logical offset
    /// (parked bytes included).
    ///
    /// The storage grows in place (`realloc`, which for a large block
    /// remaps its pages rather than copying them), and then only the
    /// shorter of the ring's two runs moves: a 32 MiB send ring, grown in
    /// 14 steps from its first write, used to copy every held byte and
    /// fault every page in again at each step.
    fn reserve(&mut self, end: usize) {
        let have = self.storage.len();
        if end <= have {
            return;
        }
        let mut size = have.max(MIN_STEP);
        while size < end {
            size = size.saturating_mul(2);
        }
        let size = size.min(self.capacity.max(end));
        self.storage.reserve_exact(size - have);
        self.storage.resize(size, 0);
        // The run from the read position to the old end (logical offsets
        // 0..tail) and the wrapped run before it (tail..have).
        let (head, tail) = (self.read_at, have - self.read_at);
        if head == 0 {
            return;
        }
        if head <= tail && have + head <= size {
            // The wrapped run follows the old end.
            self.storage.copy_within(0..head, have);
            self.moved += head as u64;
        } else {
            // The first run moves to the new end; the wrapped one is where
            // it belongs already.
            self.storage.copy_within(head..have, size - tail);
            self.read_at = size - tail;
            self.moved += tail as u64;
        }
    }

    /// Bytes moved within the storage by its growth so far: what growing
    /// cost beyond the allocator's work.
    pub fn growth_moved(&self) -> u64 {
        self.moved
    }

    /// Bytes currently held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no bytes are held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True when no more bytes fit.
    pub fn is_full(&self) -> bool {
        self.len >= self.capacity
    }

    /// Free space in bytes.
    pub fn free(&self) -> usize {
        self.capacity.saturating_sub(self.len)
    }

    /// Index into storage of logical offset `off` (< storage length).
    fn index(&self, off: usize) -> usize {
        let size = self.storage.len();
        let i = self.read_at + off;
        if i >= size {
            i - size
        } else {
            i
        }
    }

    /// Copies `data` into storage starting at logical offset `off` from the
    /// read position, clipped to capacity; returns bytes written.
    fn copy_in(&mut self, off: usize, data: &[u8]) -> usize {
        let cap = self.capacity;
        if off >= cap {
            return 0;
        }
        let n = data.len().min(cap - off);
        if n == 0 {
            return 0;
        }
        self.reserve(off + n);
        let size = self.storage.len();
        let start = self.index(off);
        let first = n.min(size - start);
        self.storage[start..start + first].copy_from_slice(&data[..first]);
        self.storage[..n - first].copy_from_slice(&data[first..n]);
        n
    }

    /// Appends as much of `data` as fits; returns the count appended.
    pub fn enqueue_slice(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.free());
        let len = self.len;
        self.copy_in(len, &data[..n]);
        self.len += n;
        n
    }

    /// Copies up to `dst.len()` bytes starting `offset` bytes past the read
    /// position into `dst` without consuming them; returns the count copied.
    pub fn read_at(&self, offset: usize, dst: &mut [u8]) -> usize {
        if offset >= self.len {
            return 0;
        }
        let size = self.storage.len();
        let n = dst.len().min(self.len - offset);
        let start = self.index(offset);
        let first = n.min(size - start);
        dst[..first].copy_from_slice(&self.storage[start..start + first]);
        dst[first..n].copy_from_slice(&self.storage[..n - first]);
        n
    }

    /// Removes up to `n` bytes from the front; returns the count removed.
    pub fn discard(&mut self, n: usize) -> usize {
        let n = n.min(self.len);
        // Never reset read_at when emptied: bytes parked past the end with
        // write_unallocated must stay where they were written.
        if n > 0 && !self.storage.is_empty() {
            self.read_at = self.index(n);
        }
        self.len -= n;
        n
    }

    /// Moves up to `dst.len()` bytes from the front into `dst`.
    pub fn dequeue_slice(&mut self, dst: &mut [u8]) -> usize {
        let n = self.read_at(0, dst);
        self.discard(n)
    }

    /// Writes `data` at `offset` bytes past the current end without
    /// committing it (out-of-order reception); clipped to free space.
    pub fn write_unallocated(&mut self, offset: usize, data: &[u8]) -> usize {
        if offset >= self.free() {
            return 0;
        }
        let n = data.len().min(self.free() - offset);
        let at = self.len + offset;
        self.copy_in(at, &data[..n])
    }

    /// The free space right after the held bytes, reserved and handed out
    /// as one contiguous slice of at most `want` bytes (shorter where the
    /// storage wraps): a device can read a segment's payload straight into
    /// it, and [`enqueue_in_place`](Self::enqueue_in_place) then commits
    /// it without a copy. Anything parked there with
    /// [`write_unallocated`](Self::write_unallocated) is overwritten by
    /// such a read, so the caller uses it only with nothing parked.
    pub fn spare_front(&mut self, want: usize) -> &mut [u8] {
        let want = want.min(self.free());
        if want == 0 {
            return &mut [];
        }
        self.reserve(self.len + want);
        let size = self.storage.len();
        let start = self.index(self.len);
        // The free bytes run from `start` to the read position, wrapping
        // at the end of the storage.
        let end = if start >= self.read_at {
            size
        } else {
            self.read_at
        };
        let n = want.min(end.saturating_sub(start));
        self.storage.get_mut(start..start + n).unwrap_or(&mut [])
    }

    /// Appends `data` like [`enqueue_slice`](Self::enqueue_slice), except
    /// that when `data` is the front of the slice
    /// [`spare_front`](Self::spare_front) handed out (a device read the
    /// bytes into place) nothing is copied: the bytes are only committed.
    pub fn enqueue_in_place(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.free());
        if n > 0 && !self.storage.is_empty() && self.len < self.storage.len() {
            let start = self.index(self.len);
            let contiguous = self.storage.len() - start;
            // Addresses only: no byte is read through either pointer.
            if std::ptr::eq(data.as_ptr(), self.storage.as_ptr().wrapping_add(start))
                && n <= contiguous
            {
                self.len += n;
                return n;
            }
        }
        self.enqueue_slice(data)
    }

    /// Commits `n` bytes previously written with
    /// [`write_unallocated`](Self::write_unallocated) at offset 0.
    pub fn enqueue_unallocated(&mut self, n: usize) -> usize {
        let n = n.min(self.free());
        // Normally written already; keep `len` within the storage anyway.
        self.reserve(self.len + n);
        self.len += n;
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_around_and_preserves_order() {
        let mut r = RingBuffer::new(8);
        assert_eq!(r.enqueue_slice(b"abcdef"), 6);
        let mut out = [0u8; 4];
        assert_eq!(r.dequeue_slice(&mut out), 4);
        assert_eq!(&out, b"abcd");
        assert_eq!(r.enqueue_slice(b"ghijklmn"), 6, "only free space is taken");
        assert!(r.is_full());
        let mut all = [0u8; 8];
        assert_eq!(r.read_at(0, &mut all), 8);
        assert_eq!(&all, b"efghijkl");
        let mut mid = [0u8; 3];
        assert_eq!(r.read_at(3, &mut mid), 3);
        assert_eq!(&mid, b"hij");
        assert_eq!(r.discard(5), 5);
        assert_eq!(r.len(), 3);
        assert_eq!(r.read_at(3, &mut mid), 0);
        assert_eq!(r.discard(100), 3);
        assert!(r.is_empty());
    }

    #[test]
    fn storage_is_allocated_on_the_first_write_only() {
        let mut r = RingBuffer::new(1 << 20);
        assert!(!r.is_allocated());
        assert_eq!((r.capacity(), r.free(), r.len()), (1 << 20, 1 << 20, 0));
        let mut out = [0u8; 4];
        assert_eq!(r.read_at(0, &mut out), 0);
        assert_eq!(r.dequeue_slice(&mut out), 0);
        assert_eq!(r.enqueue_slice(b""), 0);
        assert!(!r.is_allocated(), "nothing written, nothing allocated");
        assert_eq!(r.enqueue_unallocated(2), 2);
        assert!(r.is_allocated());
        assert_eq!(r.dequeue_slice(&mut out), 2);
        assert_eq!(&out[..2], &[0, 0]);
        let mut r = RingBuffer::new(8);
        assert_eq!(r.write_unallocated(3, b"xy"), 2);
        assert!(r.is_allocated());
    }

    #[test]
    fn unallocated_writes_commit_in_order() {
        let mut r = RingBuffer::new(6);
        r.enqueue_slice(b"ab");
        r.discard(2);
        assert_eq!(r.write_unallocated(2, b"EF"), 2);
        assert_eq!(r.write_unallocated(0, b"CD"), 2);
        assert_eq!(r.enqueue_unallocated(4), 4);
        let mut out = [0u8; 6];
        assert_eq!(r.dequeue_slice(&mut out), 4);
        assert_eq!(&out[..4], b"CDEF");
        assert_eq!(r.write_unallocated(6, b"x"), 0, "beyond free space");
    }

    #[test]
    fn parked_bytes_survive_draining_the_buffer() {
        let mut r = RingBuffer::new(8);
        r.enqueue_slice(b"abc");
        assert_eq!(r.write_unallocated(2, b"XY"), 2);
        assert_eq!(r.dequeue_slice(&mut [0u8; 3]), 3);
        assert!(r.is_empty());
        r.enqueue_slice(b"de");
        assert_eq!(r.enqueue_unallocated(2), 2);
        let mut out = [0u8; 4];
        assert_eq!(r.dequeue_slice(&mut out), 4);
        assert_eq!(&out, b"deXY");
    }

    #[test]
    fn storage_grows_in_steps_and_keeps_bytes_across_the_wrap() {
        let mut r = RingBuffer::new(1 << 20);
        r.enqueue_slice(&[1u8; 1500]);
        assert_eq!(r.allocated(), MIN_STEP, "the first write takes one step");
        r.discard(1400);
        // Wraps inside the first step, then parks bytes past the end.
        r.enqueue_slice(&[2u8; 1000]);
        assert_eq!(r.allocated(), MIN_STEP);
        assert_eq!(r.write_unallocated(500, &[3u8; 3000]), 3000);
        assert_eq!(r.allocated(), 2 * MIN_STEP * 2, "doubled until it fits");
        assert_eq!(r.enqueue_unallocated(3500), 3500);
        let mut out = vec![0u8; r.len()];
        assert_eq!(r.dequeue_slice(&mut out), 4600);
        assert!(out[..100].iter().all(|&b| b == 1));
        assert!(out[100..1100].iter().all(|&b| b == 2));
        assert!(out[1600..].iter().all(|&b| b == 3));
    }

    #[test]
    fn capacity_changes_never_drop_held_bytes() {
        let mut r = RingBuffer::new(8);
        r.enqueue_slice(b"abcdef");
        r.set_capacity(2);
        assert_eq!(r.capacity(), 6, "never below what it holds");
        assert!(r.is_full());
        r.set_capacity(32);
        assert_eq!(r.enqueue_slice(b"ghij"), 4);
        let mut out = [0u8; 10];
        assert_eq!(r.read_at(0, &mut out), 10);
        assert_eq!(&out, b"abcdefghij");
        assert_eq!(r.allocated(), 32.min(MIN_STEP));
    }

    #[test]
    fn an_empty_ring_can_give_its_storage_back() {
        let mut r = RingBuffer::new(1 << 20);
        r.enqueue_slice(&[7u8; 100_000]);
        assert_eq!(r.allocated(), 131_072);
        r.release_if_empty();
        assert_eq!(r.allocated(), 131_072, "kept while it holds bytes");
        r.discard(100_000);
        r.release_if_empty();
        assert!(!r.is_allocated());
        assert_eq!(r.enqueue_slice(b"xy"), 2);
        assert_eq!(r.allocated(), MIN_STEP);
        let mut out = [0u8; 2];
        assert_eq!(r.dequeue_slice(&mut out), 2);
        assert_eq!(&out, b"xy");
    }

    #[test]
    fn bytes_read_into_the_spare_front_commit_without_a_copy() {
        let mut r = RingBuffer::new(16);
        r.enqueue_slice(b"abcdefghij");
        r.discard(8);
        // Held: "ij" at storage 8..10; the free front runs to the wrap.
        let spare = r.spare_front(100);
        assert_eq!(spare.len(), 6, "up to the end of the storage");
        spare[..4].copy_from_slice(b"KLMN");
        let (ptr, len) = (spare.as_ptr(), 4);
        // SAFETY: the four bytes just written, still in the ring's storage,
        // which nothing else touches until the commit below.
        let placed = unsafe { std::slice::from_raw_parts(ptr, len) };
        assert_eq!(r.enqueue_in_place(placed), 4);
        // Any other slice is copied as by enqueue_slice.
        assert_eq!(r.enqueue_in_place(b"op"), 2);
        let mut out = [0u8; 8];
        assert_eq!(r.dequeue_slice(&mut out), 8);
        assert_eq!(&out, b"ijKLMNop");
        // Wrapped: the free front ends at the read position.
        let mut r = RingBuffer::new(16);
        r.enqueue_slice(&[1; 12]);
        r.discard(10);
        r.enqueue_slice(&[2; 6]);
        let spare = r.spare_front(100);
        assert_eq!(spare.len(), 8, "from index 2 to the read position, 10");
        spare.fill(3);
        let ptr = spare.as_ptr();
        // SAFETY: as above.
        let placed = unsafe { std::slice::from_raw_parts(ptr, 8) };
        assert_eq!(r.enqueue_in_place(placed), 8);
        assert!(r.is_full());
        let mut out = [0u8; 16];
        assert_eq!(r.dequeue_slice(&mut out), 16);
        assert_eq!(&out[..2], &[1, 1]);
        assert!(out[2..8].iter().all(|&b| b == 2) && out[8..].iter().all(|&b| b == 3));
        assert!(RingBuffer::new(0).spare_front(10).is_empty());
        let mut full = RingBuffer::new(4);
        full.enqueue_slice(b"wxyz");
        assert!(full.spare_front(10).is_empty());
    }

    /// A send ring's life at 1 Gbit/s: 64 KiB written, 48 KiB acknowledged,
    /// until 32 MiB are held. Every byte is the low byte of its stream
    /// offset, checked at the end.
    #[test]
    fn growth_moves_only_the_shorter_run_of_the_ring() {
        let cap = 32 << 20;
        let mut r = RingBuffer::new(cap);
        let (mut written, mut acked) = (0usize, 0usize);
        let mut steps = 0;
        while written - acked < cap - (64 << 10) {
            let before = r.allocated();
            let chunk: Vec<u8> = (written..written + (64 << 10)).map(|i| i as u8).collect();
            written += r.enqueue_slice(&chunk);
            steps += usize::from(r.allocated() != before);
            acked += r.discard(48 << 10);
        }
        assert_eq!(steps, 10, "the first write, 64 KiB, doubled to 32 MiB");
        // Each step moved at most half of what it held; copying the whole
        // ring each time moved about 32 MiB.
        assert!(
            r.growth_moved() <= (cap / 2) as u64,
            "{} bytes moved",
            r.growth_moved()
        );
        let mut out = vec![0u8; r.len()];
        assert_eq!(r.read_at(0, &mut out), r.len());
        assert!(out.iter().enumerate().all(|(i, &b)| b == (acked + i) as u8));
    }

    #[test]
    fn growth_keeps_parked_bytes_whichever_run_moves() {
        // The read position early (the wrapped run moves after the old
        // end) and late (the first run moves to the new end), with bytes
        // parked past the held ones in both.
        for (discard, held) in [(300usize, 1800usize), (1800, 300)] {
            let mut r = RingBuffer::new(1 << 20);
            r.enqueue_slice(&vec![0u8; discard]);
            r.discard(discard);
            let data: Vec<u8> = (0..held).map(|i| i as u8).collect();
            r.enqueue_slice(&data);
            assert_eq!(r.write_unallocated(10, b"parked"), 6);
            assert_eq!(r.allocated(), MIN_STEP);
            assert_eq!(r.write_unallocated(5000, b"far"), 3, "grows the ring");
            assert_eq!(r.allocated(), 4 * MIN_STEP);
            assert!(r.growth_moved() <= (MIN_STEP / 2) as u64);
            let mut out = vec![0u8; held];
            assert_eq!(r.read_at(0, &mut out), held);
            assert_eq!(out, data);
            assert_eq!(r.enqueue_unallocated(16), 16);
            let mut parked = [0u8; 16];
            assert_eq!(r.read_at(held, &mut parked), 16);
            assert_eq!(&parked[10..], b"parked", "read position {discard}");
        }
    }

    #[test]
    fn zero_capacity_is_harmless() {
        let mut r = RingBuffer::new(0);
        assert_eq!(r.enqueue_slice(b"x"), 0);
        assert_eq!(r.dequeue_slice(&mut [0u8; 1]), 0);
        assert_eq!(r.write_unallocated(0, b"x"), 0);
        assert_eq!(r.discard(1), 0);
    }

    #[test]
    fn matches_a_vecdeque_model() {
        use std::collections::VecDeque;
        let mut r = RingBuffer::new(37);
        let mut model: VecDeque<u8> = VecDeque::new();
        let mut x: u32 = 12345;
        for step in 0..5000u32 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let n = (x % 23) as usize;
            if x & 1 == 0 {
                let data: Vec<u8> = (0..n).map(|i| (step as usize + i) as u8).collect();
                let k = r.enqueue_slice(&data);
                model.extend(&data[..k]);
            } else {
                let mut out = vec![0u8; n];
                let k = r.dequeue_slice(&mut out);
                let expect: Vec<u8> = model.drain(..k).collect();
                assert_eq!(&out[..k], &expect[..]);
            }
            assert_eq!(r.len(), model.len());
            if step % 997 == 0 {
                // Grow the capacity now and then: storage relayout keeps order.
                r.set_capacity(r.capacity() + 4099);
            }
        }
    }
}
