//! Live packet source: a network interface read by libpcap, for the long-running agent.
//!
//! Policies:
//! - **Opening**: `pcap_create` + settings + `pcap_activate` with a kernel ring buffer of
//!   [`LiveConfig::buffer_size`] bytes (default 32 MiB, far above libpcap's 2 MiB, so a burst
//!   or a pipeline pause does not drop in the kernel), a snaplen of [`LiveConfig::snaplen`]
//!   bytes and nanosecond timestamps when the kernel offers them. The ring is mapped into
//!   the process and resident from the start: at the default it is half of the agent's RSS
//!   (the budget is in `bench/RESULTS.md`, "Agent RSS").
//! - **Ring layout, not immediate mode by default**: on Linux, libpcap's immediate mode
//!   switches the ring to TPACKET_V2, whose slots are all snaplen-sized: a 32 MiB ring then
//!   holds only ~128 packets at a 256 KiB snaplen (~512 on loopback), and a short pause of
//!   the pipeline drops in the kernel (measured: hundreds of kernel drops at a few hundred
//!   packets). Without it libpcap uses TPACKET_V3, which packs packets of their real size into
//!   blocks, and the kernel hands over a partly filled block after the read timeout
//!   ([`LiveConfig::read_timeout_ms`], default 20 ms), which bounds the delay a packet can
//!   wait. The agent measures latency from packet timestamps, so that delay never shows in
//!   its numbers. [`LiveConfig::immediate`] turns immediate mode on where the delay matters
//!   more than ring capacity.
//! - **Reads never block**: libpcap's read timeout on Linux only starts once a packet has
//!   arrived, so a blocking read on a silent interface never returns. Reads are non-blocking;
//!   when nothing is ready the capture thread hands over its current batch, then waits in
//!   `poll(2)` on the packet socket for at most 50 ms ([`LiveCapture::wait`]): the kernel
//!   wakes it when the ring has a block (or, in immediate mode, a packet) to read, so it
//!   wakes about once per ring block (a block is handed over when full or after the read
//!   timeout), and every 50 ms on a silent interface, which is how promptly it notices
//!   shutdown. The last packets of a burst are never held back: the batch goes before the
//!   wait, and the wait ends when the kernel hands over a block. Sleeping instead (100 µs
//!   doubling to 5 ms) woke the thread many times per block: at 15k req/s paced, 40 context
//!   switches per 1,000 requests, against 19 with a 5 ms `poll` (bench/RESULTS.md). Should
//!   `poll` fail, or wake the thread with nothing to read, the thread sleeps as before.
//!   Promiscuous mode is off by default: a sidecar sees its own application's traffic
//!   without it.
//! - **BPF filter**: compiled and installed by libpcap in the kernel; a bad expression is a
//!   clear [`LiveError::Filter`]. The filter installed is always [`kernel_filter`]: the
//!   user's expression *and* TCP (802.1Q-tagged TCP and IPv6 fragments included, which the
//!   engine reassembles), so what the agent never parses (UDP, ICMP, ARP ...) is dropped in
//!   the kernel and never costs a copy, a wake-up or a queue slot; ports the user excludes
//!   (`--filter 'not port 22'`) are dropped there too.
//! - **Network namespaces**: [`join_netns`] moves the *calling thread* into another network
//!   namespace (`setns(2)` with `CLONE_NEWNET`; needs `CAP_SYS_ADMIN`). Namespace membership
//!   is per thread, so every capture thread joins before it opens its interface, and
//!   [`up_interfaces`] must be called on a thread that has joined.
//! - **Interfaces by default**: every interface that is up, loopback included, excluding
//!   libpcap's pseudo-devices (`any`, `nflog`, `nfqueue`, `dbus-*`, `usbmon*`, bluetooth).
//!   The `any` device is not used by default (it is `LINUX_SLL` and sees bridged traffic
//!   twice) but may be named explicitly.
//! - **Drops are counted, never hidden**: libpcap's kernel (`ps_drop`) and interface
//!   (`ps_ifdrop`) counters are 32-bit and cumulative; [`LiveCapture::poll_stats`] turns
//!   them into 64-bit deltas (wrapping-safe). Packets the capture thread could not hand to
//!   the pipeline because its bounded queue was full are counted as queue drops by
//!   [`capture_loop`]. A full queue is first waited for (up to 200 ms, packets meanwhile
//!   accumulate in the kernel ring, which is the larger buffer), so a short pipeline stall
//!   costs nothing; only a pipeline that stays behind drops, and every drop is counted.
//! - **Hand-off**: packets are copied into reusable [`Batch`]es (one contiguous byte buffer
//!   plus an index), sent over a bounded channel; the pipeline sends emptied batches back
//!   through a pool channel, so the steady state allocates nothing per packet.
//! - **Fanout** (optional, `--fanout N`): N captures of one interface join one
//!   `PACKET_FANOUT` group ([`LiveCapture::join_fanout`]) of type `PACKET_FANOUT_HASH` with
//!   `PACKET_FANOUT_FLAG_DEFRAG`: the kernel hands each packet to one member, chosen by the
//!   packet's *symmetric* flow hash (`__skb_get_hash_symmetric`: both directions of a TCP
//!   connection go to the same member; IP fragments are reassembled first so they hash as
//!   their flow). The first member asks for a kernel-unique group id
//!   (`PACKET_FANOUT_FLAG_UNIQUEID`), so an agent never joins another process's group; the
//!   others join that id. A member hears every packet between its activation and its join
//!   (as a lone socket), so packets timestamped before the whole group joined are skipped
//!   ([`capture_loop`]'s `since`): capture starts when the group is complete.

use super::{LinkType, Packet};
use apitap_engine::Timestamp;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};

/// What the agent can parse: TCP over IPv4 or IPv6, and IPv6 fragments (next header 44:
/// their TCP header may be in a later fragment).
pub const TCP_ONLY: &str = "tcp or (ip6 and ip6[6] == 44)";
/// The same inside one 802.1Q tag (Ethernet links only).
pub const VLAN_TCP: &str = "vlan and (tcp or (ip6 and ip6[6] == 44))";

/// The BPF expression installed in the kernel: `(user) and (TCP_ONLY)` (with the 802.1Q
/// alternative on `ethernet` links), or that TCP part alone without a user filter.
pub fn kernel_filter(user: Option<&str>, ethernet: bool) -> String {
    let tcp = if ethernet {
        format!("{TCP_ONLY} or ({VLAN_TCP})")
    } else {
        TCP_ONLY.to_string()
    };
    match user.map(str::trim).filter(|f| !f.is_empty()) {
        Some(f) => format!("({f}) and ({tcp})"),
        None => tcp,
    }
}

/// Errors opening or reading a live capture.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// libpcap could not open or activate the interface (missing capability, no such
    /// device, interface down...).
    #[error("cannot capture on interface {iface}: {message}")]
    Open {
        /// The interface name.
        iface: String,
        /// libpcap's message.
        message: String,
    },
    /// The BPF filter expression did not compile.
    #[error("invalid BPF filter {filter:?}: {message}")]
    Filter {
        /// The filter expression.
        filter: String,
        /// libpcap's message.
        message: String,
    },
    /// Reading from the interface failed (e.g. the interface went away).
    #[error("error reading from interface {iface}: {message}")]
    Read {
        /// The interface name.
        iface: String,
        /// libpcap's message.
        message: String,
    },
    /// Joining the network namespace failed.
    #[error("cannot join network namespace {path}: {message} (setns needs CAP_SYS_ADMIN)")]
    Netns {
        /// The namespace file.
        path: String,
        /// The OS error.
        message: String,
    },
    /// Listing interfaces failed.
    #[error("cannot list interfaces: {0}")]
    List(String),
}

/// Settings of one live capture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveConfig {
    /// Interface name (`eth0`, `lo`, `any`).
    pub interface: String,
    /// BPF filter expression.
    pub filter: Option<String>,
    /// Bytes captured per packet (default 262,144: whole packets, including TSO super-frames).
    pub snaplen: i32,
    /// Kernel ring buffer size in bytes (default 32 MiB).
    pub buffer_size: i32,
    /// libpcap read timeout in milliseconds (default 20): the longest a packet waits in a
    /// partly filled ring block (reads themselves never block, see the module doc).
    pub read_timeout_ms: i32,
    /// libpcap immediate mode (default off, see the module doc).
    pub immediate: bool,
    /// Promiscuous mode (default off).
    pub promisc: bool,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            interface: "lo".into(),
            filter: None,
            snaplen: 262_144,
            buffer_size: 32 << 20,
            read_timeout_ms: 20,
            immediate: false,
            promisc: false,
        }
    }
}

/// Moves the calling thread into the network namespace at `path` (`/proc/PID/ns/net` or
/// `/var/run/netns/NAME`). Needs `CAP_SYS_ADMIN`.
pub fn join_netns(path: &Path) -> Result<(), LiveError> {
    let err = |message: String| LiveError::Netns {
        path: path.display().to_string(),
        message,
    };
    let f = std::fs::File::open(path).map_err(|e| err(e.to_string()))?;
    nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| err(e.to_string()))
}

/// True for libpcap pseudo-devices that are not network interfaces.
fn is_pseudo(name: &str) -> bool {
    name == "any"
        || name.starts_with("nflog")
        || name.starts_with("nfqueue")
        || name.starts_with("dbus")
        || name.starts_with("usbmon")
        || name.starts_with("bluetooth")
}

/// Interface names of the calling thread's network namespace, from
/// `/proc/thread-self/net/dev` (libpcap may also list interfaces of the process's original
/// namespace after a `setns`, since it reads `/sys/class/net`).
fn namespace_interfaces() -> Option<Vec<String>> {
    let text = std::fs::read_to_string("/proc/thread-self/net/dev").ok()?;
    Some(
        text.lines()
            .skip(2)
            .filter_map(|l| l.split_once(':').map(|(n, _)| n.trim().to_string()))
            .filter(|n| !n.is_empty())
            .collect(),
    )
}

/// Every interface that is up in the calling thread's network namespace, loopback included,
/// without pseudo-devices, sorted by name.
pub fn up_interfaces() -> Result<Vec<String>, LiveError> {
    let devs = pcap::Device::list().map_err(|e| LiveError::List(e.to_string()))?;
    let present = namespace_interfaces();
    let mut names: Vec<String> = devs
        .into_iter()
        .filter(|d| d.flags.is_up() && !is_pseudo(&d.name))
        .filter(|d| present.as_ref().is_none_or(|p| p.contains(&d.name)))
        .map(|d| d.name)
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

// `PACKET_FANOUT` as a nix socket option. The only unsafe code is nix's own `setsockopt` /
// `getsockopt` call in the macro's expansion: it passes a pointer to a `c_int` and its size,
// and the kernel reads (set) or writes (get) exactly one `int` for this option
// (`id | type << 16 | flags << 24`), so the buffer is always large enough and initialised.
use nix::{getsockopt_impl, setsockopt_impl, sockopt_impl};
sockopt_impl!(
    /// `SOL_PACKET` / `PACKET_FANOUT`: join a fanout group (set), read the group (get).
    PacketFanout,
    Both,
    libc::SOL_PACKET,
    libc::PACKET_FANOUT,
    libc::c_int
);

/// `PACKET_FANOUT_FLAG_UNIQUEID` (linux/if_packet.h; not in every libc version): the kernel
/// picks an id no other group uses.
const FANOUT_FLAG_UNIQUEID: u32 = 0x2000;

/// Cumulative drop counters of a capture, 64-bit.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct DropStats {
    /// Packets dropped by the kernel (ring buffer full).
    pub kernel: u64,
    /// Packets dropped by the interface or its driver.
    pub interface: u64,
}

/// An open live capture on one interface.
pub struct LiveCapture {
    cap: pcap::Capture<pcap::Active>,
    link: LinkType,
    iface: String,
    nanos: bool,
    last: (u32, u32),
    drops: DropStats,
    since: Option<Timestamp>,
}

impl std::fmt::Debug for LiveCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveCapture")
            .field("iface", &self.iface)
            .field("link", &self.link)
            .finish()
    }
}

impl LiveCapture {
    /// Opens `cfg.interface` with the settings of `cfg` (see the module doc).
    pub fn open(cfg: &LiveConfig) -> Result<LiveCapture, LiveError> {
        let open_err = |e: pcap::Error| LiveError::Open {
            iface: cfg.interface.clone(),
            message: e.to_string(),
        };
        let build = |precision: pcap::Precision| {
            pcap::Capture::from_device(cfg.interface.as_str())
                .map_err(open_err)
                .map(|c| {
                    c.promisc(cfg.promisc)
                        .immediate_mode(cfg.immediate)
                        .snaplen(cfg.snaplen)
                        .buffer_size(cfg.buffer_size)
                        .timeout(cfg.read_timeout_ms.max(1))
                        .precision(precision)
                })
        };
        // Nanosecond timestamps where the kernel supports them, else microseconds.
        let (cap, nanos) = match build(pcap::Precision::Nano)?.open() {
            Ok(c) => (c, true),
            Err(_) => (
                build(pcap::Precision::Micro)?.open().map_err(open_err)?,
                false,
            ),
        };
        // Non-blocking reads (see the module doc).
        let mut cap = cap.setnonblock().map_err(open_err)?;
        let link = LinkType(cap.get_datalink().0);
        let f = kernel_filter(cfg.filter.as_deref(), link == LinkType::ETHERNET);
        cap.filter(&f, true).map_err(|e| LiveError::Filter {
            filter: cfg.filter.clone().unwrap_or_default(),
            message: e.to_string(),
        })?;
        Ok(LiveCapture {
            cap,
            link,
            iface: cfg.interface.clone(),
            nanos,
            last: (0, 0),
            drops: DropStats::default(),
            since: None,
        })
    }

    /// The interface name.
    pub fn interface(&self) -> &str {
        &self.iface
    }

    /// The link-layer type of the packets.
    pub fn link(&self) -> LinkType {
        self.link
    }

    /// Skips packets timestamped before `ts` from now on (a fanout member's packets from
    /// before its group was complete, see the module doc).
    pub fn skip_before(&mut self, ts: Timestamp) {
        self.since = Some(ts);
    }

    /// The next packet, or `Ok(None)` when none is waiting (reads do not block). Does not
    /// allocate: the packet borrows libpcap's buffer.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, LiveError> {
        match self.cap.next_packet() {
            Ok(p) => {
                let h = p.header;
                // timeval fields are i64 here but not on every target.
                #[allow(clippy::unnecessary_cast)]
                let ts = if self.nanos {
                    Timestamp::from_nanos(h.ts.tv_sec as i64, h.ts.tv_usec as i64)
                } else {
                    Timestamp::from_micros(h.ts.tv_sec as i64, h.ts.tv_usec as i64)
                };
                Ok(Some(Packet {
                    ts,
                    link: self.link,
                    data: p.data,
                    orig_len: h.len,
                }))
            }
            Err(pcap::Error::TimeoutExpired) => Ok(None),
            Err(e) => Err(LiveError::Read {
                iface: self.iface.clone(),
                message: e.to_string(),
            }),
        }
    }

    /// Waits until the packet socket has something to read (or an error to report), at
    /// most `timeout`: `Some(true)` woken by the socket, `Some(false)` timed out, `None` if
    /// `poll(2)` failed (then nothing was waited for).
    pub fn wait(&self, timeout: std::time::Duration) -> Option<bool> {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        use std::os::fd::AsFd;
        let ms = PollTimeout::try_from(timeout).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(self.cap.as_fd(), PollFlags::POLLIN)];
        poll(&mut fds, ms).ok().map(|n| n > 0)
    }

    /// Joins this capture's packet socket to a `PACKET_FANOUT_HASH` group (see the module
    /// doc): `group` is the id to join, or `None` to create a group with a kernel-unique id.
    /// Returns the group id, for the other members.
    pub fn join_fanout(&mut self, group: Option<u16>) -> Result<u16, LiveError> {
        let err = |e: nix::Error| LiveError::Open {
            iface: self.iface.clone(),
            message: format!("cannot join a PACKET_FANOUT group: {e}"),
        };
        let flags = libc::PACKET_FANOUT_FLAG_DEFRAG
            | if group.is_none() {
                FANOUT_FLAG_UNIQUEID
            } else {
                0
            };
        let arg = u32::from(group.unwrap_or(0)) | (libc::PACKET_FANOUT_HASH << 16) | (flags << 16);
        let arg = libc::c_int::from_ne_bytes(arg.to_ne_bytes());
        nix::sys::socket::setsockopt(&self.cap, PacketFanout, &arg).map_err(err)?;
        let got = nix::sys::socket::getsockopt(&self.cap, PacketFanout).map_err(err)?;
        Ok((got & 0xffff) as u16)
    }

    /// Reads libpcap's counters and returns the cumulative drops as 64-bit values (libpcap's
    /// 32-bit counters may wrap; deltas are taken modulo 2^32).
    pub fn poll_stats(&mut self) -> DropStats {
        if let Ok(s) = self.cap.stats() {
            self.drops.kernel += u64::from(s.dropped.wrapping_sub(self.last.0));
            self.drops.interface += u64::from(s.if_dropped.wrapping_sub(self.last.1));
            self.last = (s.dropped, s.if_dropped);
        }
        self.drops
    }
}

/// Position of one packet inside a [`Batch`].
#[derive(Copy, Clone, Debug)]
struct Entry {
    ts: Timestamp,
    start: usize,
    len: usize,
    orig_len: u32,
}

/// Packets of one interface copied into one contiguous buffer, handed to the pipeline as a
/// unit. Cleared and reused through a pool.
#[derive(Debug)]
pub struct Batch {
    /// Link-layer type of all packets in the batch.
    pub link: LinkType,
    /// Index of the interface the packets came from.
    pub iface: usize,
    data: Vec<u8>,
    entries: Vec<Entry>,
}

impl Batch {
    /// An empty batch with room for `packets` packets and `bytes` bytes.
    pub fn with_capacity(packets: usize, bytes: usize) -> Batch {
        Batch {
            link: LinkType::ETHERNET,
            iface: 0,
            data: Vec::with_capacity(bytes),
            entries: Vec::with_capacity(packets),
        }
    }

    /// Appends a copy of `pkt`.
    pub fn push(&mut self, pkt: &Packet<'_>) {
        let start = self.data.len();
        self.data.extend_from_slice(pkt.data);
        self.entries.push(Entry {
            ts: pkt.ts,
            start,
            len: pkt.data.len(),
            orig_len: pkt.orig_len,
        });
    }

    /// Number of packets.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if the batch holds no packet.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.data.len()
    }

    /// Timestamp of the first packet.
    pub fn first_ts(&self) -> Option<Timestamp> {
        self.entries.first().map(|e| e.ts)
    }

    /// Counts `pkt` in `counters`, appends a copy, and says whether the batch is now due to be
    /// handed over under `policy` (packets, bytes, or capture-time span since its first
    /// packet). The one batching step of the live capture and the replay.
    pub fn take(
        &mut self,
        pkt: &Packet<'_>,
        counters: &IfaceCounters,
        policy: &BatchPolicy,
    ) -> bool {
        counters.count(pkt);
        let span = self
            .first_ts()
            .map_or(0, |t| pkt.ts.as_nanos().saturating_sub(t.as_nanos()));
        self.push(pkt);
        policy.due(self.len(), self.bytes(), span)
    }

    /// Empties the batch, keeping its allocations.
    pub fn clear(&mut self) {
        self.data.clear();
        self.entries.clear();
    }

    /// The packets, in capture order.
    pub fn packets(&self) -> impl Iterator<Item = Packet<'_>> + '_ {
        self.entries.iter().filter_map(move |e| {
            Some(Packet {
                ts: e.ts,
                link: self.link,
                data: self.data.get(e.start..e.start + e.len)?,
                orig_len: e.orig_len,
            })
        })
    }
}

/// Per-interface counters shared between a capture thread and the metrics endpoint.
#[derive(Debug, Default)]
pub struct IfaceCounters {
    /// Interface name.
    pub name: String,
    /// Packets captured (after the BPF filter).
    pub packets: AtomicU64,
    /// Captured bytes.
    pub bytes: AtomicU64,
    /// Packets dropped by the kernel (ring buffer full).
    pub kernel_drops: AtomicU64,
    /// Packets dropped by the interface or driver.
    pub interface_drops: AtomicU64,
    /// Packets dropped because the pipeline queue was full.
    pub queue_drops: AtomicU64,
    /// The capture is open and running.
    pub running: AtomicBool,
    /// Read errors that ended the capture.
    pub errors: AtomicU64,
}

impl IfaceCounters {
    /// Counters for interface `name`.
    pub fn new(name: &str) -> Self {
        IfaceCounters {
            name: name.to_string(),
            ..Default::default()
        }
    }

    /// Counts one captured packet (`packets`, `bytes`).
    pub fn count(&self, pkt: &Packet<'_>) {
        self.packets.fetch_add(1, Ordering::Relaxed);
        self.bytes
            .fetch_add(pkt.data.len() as u64, Ordering::Relaxed);
    }
}

/// How long a capture thread waits for room in a full queue before dropping a batch.
const QUEUE_WAIT: std::time::Duration = std::time::Duration::from_millis(200);
/// Polling step while waiting for room in the queue.
const QUEUE_POLL: std::time::Duration = std::time::Duration::from_micros(250);

/// When a capture thread hands its current batch over.
#[derive(Copy, Clone, Debug)]
pub struct BatchPolicy {
    /// Max packets per batch.
    pub max_packets: usize,
    /// Max bytes per batch.
    pub max_bytes: usize,
    /// Max capture-time span of a batch, in nanoseconds.
    pub max_span_nanos: i64,
}

impl BatchPolicy {
    /// A batch of `packets` packets and `bytes` bytes, whose last packet came `span_nanos`
    /// of capture time after its first, is due to be handed over.
    pub fn due(&self, packets: usize, bytes: usize, span_nanos: i64) -> bool {
        packets >= self.max_packets || bytes >= self.max_bytes || span_nanos >= self.max_span_nanos
    }
}

impl Default for BatchPolicy {
    fn default() -> Self {
        BatchPolicy {
            max_packets: 256,
            max_bytes: 256 << 10,
            max_span_nanos: 20_000_000,
        }
    }
}

/// Where a capture thread's packets go: the batch queue to a pipeline thread
/// ([`capture_loop`], the agent's `--queued`), or a pipeline run on the capture thread
/// itself (the agent's default).
pub trait PacketSink {
    /// One packet read from the ring (not yet counted in the interface's counters). The
    /// packet borrows libpcap's buffer: it is gone after this call.
    fn packet(&mut self, p: &Packet<'_>, counters: &IfaceCounters);
    /// Nothing is waiting in the ring: finish what is pending (hand a batch over, run the
    /// timers). Called before every wait and once at exit.
    fn idle(&mut self);
}

/// The queued hand-off: packets are copied into [`Batch`]es sent to a pipeline thread.
struct Queued<'a> {
    tx: &'a SyncSender<Batch>,
    pool: &'a dyn Fn() -> Option<Batch>,
    counters: &'a IfaceCounters,
    stop: &'a AtomicBool,
    policy: BatchPolicy,
    batch: Batch,
    link: LinkType,
    iface: usize,
}

impl Queued<'_> {
    fn new_batch(&self) -> Batch {
        let mut b = (self.pool)().unwrap_or_else(|| {
            Batch::with_capacity(self.policy.max_packets, self.policy.max_bytes.min(64 << 10))
        });
        b.clear();
        b.link = self.link;
        b.iface = self.iface;
        b
    }

    fn send(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let next = self.new_batch();
        let mut full = std::mem::replace(&mut self.batch, next);
        let n = full.len() as u64;
        // A full queue is usually a short stall of the pipeline (a model snapshot, a
        // scrape, the scheduler): wait for it up to `QUEUE_WAIT` while packets keep
        // accumulating in the kernel ring, then drop the batch and count it.
        let mut waited = std::time::Duration::ZERO;
        loop {
            match self.tx.try_send(full) {
                Ok(()) | Err(TrySendError::Disconnected(_)) => return,
                Err(TrySendError::Full(b))
                    if waited < QUEUE_WAIT && !self.stop.load(Ordering::Relaxed) =>
                {
                    full = b;
                    std::thread::sleep(QUEUE_POLL);
                    waited += QUEUE_POLL;
                }
                Err(TrySendError::Full(mut b)) => {
                    self.counters.queue_drops.fetch_add(n, Ordering::Relaxed);
                    b.clear();
                    self.batch = b;
                    return;
                }
            }
        }
    }
}

impl PacketSink for Queued<'_> {
    fn packet(&mut self, p: &Packet<'_>, counters: &IfaceCounters) {
        if self.batch.take(p, counters, &self.policy) {
            self.send();
        }
    }

    fn idle(&mut self) {
        self.send();
    }
}

/// Reads `cap` until `stop` is set (checked at least every 50 ms) or a read error,
/// sending batches to `tx`. Empty batches are taken from `pool` (the pipeline returns
/// processed ones) or allocated when it has none. A batch that does not
/// fit in the queue is dropped and its packets counted in `counters.queue_drops`. Drop
/// counters are refreshed about once a second and at exit.
pub fn capture_loop(
    cap: &mut LiveCapture,
    iface: usize,
    tx: &SyncSender<Batch>,
    pool: &dyn Fn() -> Option<Batch>,
    counters: &IfaceCounters,
    stop: &AtomicBool,
    policy: BatchPolicy,
) -> Result<(), LiveError> {
    let mut sink = Queued {
        tx,
        pool,
        counters,
        stop,
        policy,
        batch: Batch::with_capacity(0, 0),
        link: cap.link(),
        iface,
    };
    sink.batch = sink.new_batch();
    read_loop(cap, counters, stop, &mut sink)
}

/// Reads `cap` until `stop` is set (checked at least every 50 ms) or a read error, giving
/// every packet to `sink` and calling its [`PacketSink::idle`] whenever the ring is empty
/// (before waiting) and at exit. Drop counters are refreshed about once a second and at
/// exit.
pub fn read_loop(
    cap: &mut LiveCapture,
    counters: &IfaceCounters,
    stop: &AtomicBool,
    sink: &mut dyn PacketSink,
) -> Result<(), LiveError> {
    let mut last_stats = std::time::Instant::now();
    counters.running.store(true, Ordering::Relaxed);
    const MIN_IDLE: std::time::Duration = std::time::Duration::from_micros(100);
    const MAX_IDLE: std::time::Duration = std::time::Duration::from_millis(5);
    // longer than the read timeout (20 ms by default), so a paced load wakes the thread
    // once per block handed over, not once per wait
    const POLL_WAIT: std::time::Duration = std::time::Duration::from_millis(50);
    let mut idle = MIN_IDLE;
    // the last `poll` returned because the socket was readable
    let mut woken = false;
    let mut tick: u32 = 0;
    let mut reported = DropStats::default();
    let since = cap.since;
    let result = loop {
        if stop.load(Ordering::Relaxed) {
            break Ok(());
        }
        match cap.next_packet() {
            Ok(Some(p)) => {
                idle = MIN_IDLE;
                woken = false;
                // (a fanout member's packets from before its group was complete are skipped)
                if since.is_none_or(|s| p.ts >= s) {
                    sink.packet(&p, counters);
                }
            }
            Ok(None) => {
                sink.idle();
                // woken by the socket yet nothing to read (a condition `poll` reports at
                // once, say): sleep this time instead, so this loop never spins
                let waited = if woken { None } else { cap.wait(POLL_WAIT) };
                match waited {
                    Some(w) => {
                        woken = w;
                        idle = MAX_IDLE;
                    }
                    None => {
                        woken = false;
                        std::thread::sleep(idle);
                        idle = (idle * 2).min(MAX_IDLE);
                    }
                }
            }
            Err(e) => {
                counters.errors.fetch_add(1, Ordering::Relaxed);
                break Err(e);
            }
        }
        tick = tick.wrapping_add(1);
        if (tick.is_multiple_of(1024) || idle > MIN_IDLE)
            && last_stats.elapsed() >= std::time::Duration::from_secs(1)
        {
            last_stats = std::time::Instant::now();
            add_drops(cap, counters, &mut reported);
        }
    };
    sink.idle();
    add_drops(cap, counters, &mut reported);
    counters.running.store(false, Ordering::Relaxed);
    result
}

/// Adds the drops `cap` counted since `reported` to `counters` (the members of a fanout
/// group share one interface's counters, so each adds its own).
fn add_drops(cap: &mut LiveCapture, counters: &IfaceCounters, reported: &mut DropStats) {
    let d = cap.poll_stats();
    counters
        .kernel_drops
        .fetch_add(d.kernel.saturating_sub(reported.kernel), Ordering::Relaxed);
    counters.interface_drops.fetch_add(
        d.interface.saturating_sub(reported.interface),
        Ordering::Relaxed,
    );
    *reported = d;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel filter compiles (libpcap's own compiler, on a dead handle) for the link
    /// types captured, alone and with user filters; a bad user filter still fails.
    #[test]
    fn kernel_filter_compiles() {
        for link in [
            pcap::Linktype::ETHERNET,
            pcap::Linktype(113),
            pcap::Linktype(12),
        ] {
            let Ok(cap) = pcap::Capture::dead(link) else {
                panic!("no dead pcap handle");
            };
            let eth = link == pcap::Linktype::ETHERNET;
            for user in [None, Some("tcp port 8080"), Some("not port 22"), Some(" ")] {
                let f = kernel_filter(user, eth);
                assert!(cap.compile(&f, true).is_ok(), "{link:?} {f}");
            }
            assert!(cap
                .compile(&kernel_filter(Some("port nope"), eth), true)
                .is_err());
        }
        assert_eq!(
            kernel_filter(Some("port 80"), false),
            format!("(port 80) and ({TCP_ONLY})")
        );
    }

    #[test]
    fn batch_round_trip() {
        let mut b = Batch::with_capacity(4, 16);
        b.link = LinkType::RAW;
        let p1 = Packet {
            ts: Timestamp::from_nanos(1, 5),
            link: LinkType::RAW,
            data: b"abc",
            orig_len: 10,
        };
        let p2 = Packet {
            ts: Timestamp::from_nanos(2, 0),
            link: LinkType::RAW,
            data: b"",
            orig_len: 0,
        };
        b.push(&p1);
        b.push(&p2);
        b.push(&p1);
        let got: Vec<(i64, Vec<u8>, u32)> = b
            .packets()
            .map(|p| (p.ts.as_nanos(), p.data.to_vec(), p.orig_len))
            .collect();
        assert_eq!(
            got,
            vec![
                (1_000_000_005, b"abc".to_vec(), 10),
                (2_000_000_000, vec![], 0),
                (1_000_000_005, b"abc".to_vec(), 10)
            ]
        );
        assert_eq!(b.bytes(), 6);
        b.clear();
        assert!(b.is_empty());
        assert_eq!(b.packets().count(), 0);
    }

    #[test]
    fn pseudo_devices() {
        assert!(is_pseudo("any"));
        assert!(is_pseudo("nflog"));
        assert!(is_pseudo("usbmon1"));
        assert!(!is_pseudo("eth0"));
        assert!(!is_pseudo("lo"));
    }
}
