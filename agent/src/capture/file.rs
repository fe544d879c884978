//! Offline packet source: capture files read by libpcap.
//!
//! Policies:
//! - **Formats**: whatever libpcap reads (pcap in either byte order and precision, pcapng).
//!   Timestamps are requested in nanosecond precision, so pcapng/nanosecond files keep it.
//! - **gzip** is detected by its magic bytes (`1f 8b`), never by file name. The compressed
//!   stream is decompressed on a background thread (flate2, multi-member like `zcat`) into
//!   an OS pipe whose read end libpcap opens as `/dev/fd/N` (the `pcap` crate's fd API is
//!   `unsafe`, and this crate forbids `unsafe`). Memory stays bounded by the pipe buffer.
//! - **stdin** (`-`) and other non-regular files (FIFOs, `<(zcat ...)`): the first bytes
//!   are sniffed for gzip, so both plain and compressed captures work; they always go
//!   through the same pipe thread (sniffed bytes cannot be "un-read" from a pipe).
//! - **Truncated last record** (a capture cut off mid-packet, or a gzip stream that ends
//!   early): the file ends cleanly; the event is logged (`tracing::warn!`) and counted in
//!   [`CaptureStats::truncated_records`] / [`CaptureStats::decompress_errors`].
//! - **Not a capture / corrupt or truncated file header / empty file**: a clear
//!   [`CaptureError::Open`] naming the file and carrying libpcap's message.
//! - **Corrupt record in the middle** (e.g. an absurd record length): [`CaptureError::Read`],
//!   because libpcap cannot resynchronise; packets already returned stay valid.
//! - **BPF filter**: compiled and applied by libpcap (`pcap_compile` + `pcap_setfilter`); a
//!   bad expression is [`CaptureError::Filter`] with the expression and libpcap's message.
//! - **Unknown link types** open fine; [`apitap_engine::decode`] counts their packets as
//!   `unsupported_link`.
//!
//! [`FileSource::next_packet`] does not allocate: it hands out a view of libpcap's buffer.

use super::{LinkType, Packet};
use apitap_engine::Timestamp;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Errors opening or reading a capture.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The file could not be opened or read at the OS level.
    #[error("cannot read capture {path}: {source}")]
    Io {
        /// The path given.
        path: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// libpcap refused the file: not a capture, unknown or corrupt header, empty file.
    #[error("{path} is not a readable capture file: {message}")]
    Open {
        /// The path given.
        path: String,
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
    /// A corrupt record in the middle of the file (libpcap cannot continue past it).
    #[error("error reading capture {path} after {packets} packets: {message}")]
    Read {
        /// The path given.
        path: String,
        /// Packets successfully read before the error.
        packets: u64,
        /// libpcap's message.
        message: String,
    },
    /// Setting up the decompression pipe or thread failed.
    #[error("cannot set up decompression pipe for {path}: {source}")]
    Pipe {
        /// The path given.
        path: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

/// Counters of a [`FileSource`].
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// Packets returned (after the BPF filter).
    pub packets: u64,
    /// Captured bytes returned.
    pub bytes: u64,
    /// Truncated last records (0 or 1): the capture ended mid-record.
    pub truncated_records: u64,
    /// Decompression errors (0 or 1): the gzip stream was corrupt or cut off.
    pub decompress_errors: u64,
}

/// State shared with the decompression thread.
#[derive(Default)]
struct PumpShared {
    /// Bytes consumed from the underlying (compressed) input.
    consumed: AtomicU64,
    /// The decompression/read error, if any.
    error: Mutex<Option<String>>,
}

/// A reader that counts the bytes it reads into `PumpShared::consumed`.
struct Counting<R> {
    inner: R,
    shared: Arc<PumpShared>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.shared.consumed.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Where the bytes come from, for progress reporting.
enum Input {
    /// libpcap reads the file directly; progress is estimated from record sizes.
    Direct,
    /// A background thread feeds libpcap through a pipe.
    Pumped(Arc<PumpShared>),
}

/// An offline capture (file, gzip-compressed file or stdin), optionally BPF-filtered.
pub struct FileSource {
    cap: pcap::Capture<pcap::Offline>,
    link: LinkType,
    st: SourceState,
}

/// Everything but the libpcap handle (so it can be updated while a packet borrows `cap`).
struct SourceState {
    path: String,
    input: Input,
    /// Size of the file on disk (compressed size for gzip); `None` for stdin.
    total: Option<u64>,
    /// Estimated bytes consumed for direct reads (file header + record headers + data).
    direct_consumed: u64,
    stats: CaptureStats,
    finished: bool,
}

impl std::fmt::Debug for FileSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSource")
            .field("path", &self.st.path)
            .field("link", &self.link)
            .field("stats", &self.st.stats)
            .finish_non_exhaustive()
    }
}

/// gzip magic bytes.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

fn pcap_message(e: pcap::Error) -> String {
    match e {
        pcap::Error::PcapError(m) => m,
        other => other.to_string(),
    }
}

/// Decompresses (or copies) `input` into `out` until end of input or until the reader goes
/// away; records the error, if any, in `shared`.
// `std::io::pipe` needs Rust 1.87 (the workspace MSRV must be at least that).
fn pump<R: Read>(input: R, mut out: io::PipeWriter, shared: &PumpShared) {
    let result = (|| -> io::Result<()> {
        let mut input = BufReader::with_capacity(64 * 1024, input);
        // Read the magic bytes explicitly (a pipe may deliver them in separate reads),
        // then put them back in front of the stream.
        let mut magic = [0u8; 2];
        let n = read_up_to(&mut input, &mut magic)?;
        let mut stream = magic.get(..n).unwrap_or_default().chain(input);
        if n == 2 && magic == GZIP_MAGIC {
            let mut dec = flate2::bufread::MultiGzDecoder::new(stream);
            io::copy(&mut dec, &mut out)?;
        } else {
            io::copy(&mut stream, &mut out)?;
        }
        out.flush()
    })();
    if let Err(e) = result {
        // The reader closing early (source dropped) is not an error worth reporting.
        if e.kind() != io::ErrorKind::BrokenPipe {
            if let Ok(mut slot) = shared.error.lock() {
                *slot = Some(e.to_string());
            }
        }
    }
    // `out` is dropped (closing the pipe, so libpcap sees EOF) only after the error is
    // recorded: whoever sees EOF also sees the error.
}

impl FileSource {
    /// Opens `path` (`-` for stdin), detecting gzip by magic bytes, and applies `filter`
    /// (BPF, compiled by libpcap) if given.
    pub fn open(path: &str, filter: Option<&str>) -> Result<FileSource, CaptureError> {
        let io_err = |source| CaptureError::Io {
            path: path.to_string(),
            source,
        };
        let (cap, input, total) = if path == "-" {
            let (cap, shared) = Self::open_pumped(path, io::stdin())?;
            (cap, Input::Pumped(shared), None)
        } else {
            let mut file = File::open(path).map_err(io_err)?;
            let meta = file.metadata().map_err(io_err)?;
            if !meta.is_file() {
                // A FIFO, `<(zcat ...)`, a character device: it can be read only once, so
                // the pump thread reads (and sniffs) it for libpcap.
                let (cap, shared) = Self::open_pumped(path, file)?;
                (cap, Input::Pumped(shared), None)
            } else if meta.len() == 0 {
                return Err(CaptureError::Open {
                    path: path.to_string(),
                    message: "empty file".to_string(),
                });
            } else {
                let mut magic = [0u8; 2];
                let n = read_up_to(&mut file, &mut magic).map_err(io_err)?;
                if n == 2 && magic == GZIP_MAGIC {
                    // Back to the start so the decompressor sees the whole stream.
                    file.rewind().map_err(io_err)?;
                    let (cap, shared) = Self::open_pumped(path, file)?;
                    (cap, Input::Pumped(shared), Some(meta.len()))
                } else {
                    drop(file);
                    let cap = pcap::Capture::from_file_with_precision(path, pcap::Precision::Nano)
                        .map_err(|e| CaptureError::Open {
                            path: path.to_string(),
                            message: pcap_message(e),
                        })?;
                    (cap, Input::Direct, Some(meta.len()))
                }
            }
        };
        let mut cap = cap;
        if let Some(expr) = filter {
            cap.filter(expr, true).map_err(|e| CaptureError::Filter {
                filter: expr.to_string(),
                message: pcap_message(e),
            })?;
        }
        let link = LinkType(cap.get_datalink().0);
        Ok(FileSource {
            cap,
            link,
            st: SourceState {
                path: path.to_string(),
                input,
                total,
                // pcap file header; pcapng section/interface blocks are of similar size.
                direct_consumed: 24,
                stats: CaptureStats::default(),
                finished: false,
            },
        })
    }

    /// Starts the pump thread over `input` (sniffed for gzip there) and lets libpcap open
    /// the pipe's read end by path.
    fn open_pumped<R: Read + Send + 'static>(
        path: &str,
        input: R,
    ) -> Result<(pcap::Capture<pcap::Offline>, Arc<PumpShared>), CaptureError> {
        let pipe_err = |source| CaptureError::Pipe {
            path: path.to_string(),
            source,
        };
        let shared = Arc::new(PumpShared::default());
        let reader = Counting {
            inner: input,
            shared: shared.clone(),
        };
        let (rx, tx) = io::pipe().map_err(pipe_err)?;
        let thread_shared = shared.clone();
        std::thread::Builder::new()
            .name("apitap-gunzip".into())
            .spawn(move || pump(reader, tx, &thread_shared))
            .map_err(pipe_err)?;
        let fd_path = format!("/dev/fd/{}", rx.as_raw_fd());
        let opened = pcap::Capture::from_file_with_precision(&fd_path, pcap::Precision::Nano);
        // libpcap holds its own descriptor now (or failed); ours can go. If libpcap failed,
        // this also makes the pump thread's next write fail with EPIPE, ending it.
        drop(rx);
        let cap = opened.map_err(|e| CaptureError::Open {
            path: path.to_string(),
            message: pcap_message(e),
        })?;
        Ok((cap, shared))
    }

    /// The link-layer type of the capture.
    pub fn link_type(&self) -> LinkType {
        self.link
    }

    /// Counters so far.
    pub fn stats(&self) -> CaptureStats {
        self.st.stats
    }

    /// Progress: `(bytes consumed so far, total bytes)`. For gzip input both are compressed
    /// bytes; for plain files the consumed value is an estimate from record sizes (exact
    /// for pcap, approximate for pcapng); the total is `None` for stdin.
    pub fn progress(&self) -> (u64, Option<u64>) {
        let consumed = match &self.st.input {
            Input::Direct => self.st.direct_consumed,
            Input::Pumped(shared) => shared.consumed.load(Ordering::Relaxed),
        };
        match self.st.total {
            Some(t) => (consumed.min(t), Some(t)),
            None => (consumed, None),
        }
    }

    /// The next packet, or `None` at the end of the capture. Does not allocate.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        let st = &mut self.st;
        if st.finished {
            return Ok(None);
        }
        match self.cap.next_packet() {
            Ok(p) => {
                let h = p.header;
                // `time_t`/`suseconds_t` are not i64 on every platform.
                #[allow(clippy::unnecessary_cast)]
                let ts = Timestamp::from_nanos(h.ts.tv_sec as i64, h.ts.tv_usec as i64);
                st.stats.packets += 1;
                st.stats.bytes += u64::from(h.caplen);
                st.direct_consumed = st.direct_consumed.saturating_add(16 + u64::from(h.caplen));
                Ok(Some(Packet {
                    // With nanosecond precision requested, `tv_usec` holds nanoseconds.
                    ts,
                    link: self.link,
                    data: p.data,
                    orig_len: h.len,
                }))
            }
            Err(pcap::Error::NoMorePackets) => {
                st.finish();
                Ok(None)
            }
            Err(pcap::Error::PcapError(msg)) if msg.contains("truncated") => {
                st.stats.truncated_records += 1;
                tracing::warn!(
                    path = %st.path,
                    packets = st.stats.packets,
                    "capture ends with a truncated record ({msg}); stopping at the last complete packet"
                );
                st.finish();
                Ok(None)
            }
            Err(e) => {
                let message = pcap_message(e);
                st.finished = true;
                // A decompression failure usually shows up to libpcap as garbage or EOF;
                // report the root cause if there is one.
                let message = match st.pump_error() {
                    Some(gz) => format!("{message} (decompression: {gz})"),
                    None => message,
                };
                Err(CaptureError::Read {
                    path: st.path.clone(),
                    packets: st.stats.packets,
                    message,
                })
            }
        }
    }
}

impl SourceState {
    fn pump_error(&self) -> Option<String> {
        match &self.input {
            Input::Direct => None,
            Input::Pumped(shared) => shared.error.lock().ok().and_then(|e| e.clone()),
        }
    }

    /// End of input: note a decompression error, if the pump thread had one.
    fn finish(&mut self) {
        self.finished = true;
        if let Some(e) = self.pump_error() {
            self.stats.decompress_errors += 1;
            tracing::warn!(path = %self.path, "compressed capture is corrupt or cut off ({e}); stopping at the last complete packet");
        }
    }
}

/// Reads until `buf` is full or EOF; returns the number of bytes read.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(buf.get_mut(n..).unwrap_or_default()) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
