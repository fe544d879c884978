//! Inflating gzip, zlib and raw deflate bodies with flate2's low-level [`Decompress`], without
//! the zeroing the `write::*Decoder`s pay: they clear a fresh 32 KiB output buffer on every
//! write and a fresh inflate state (~43 KiB) for every body, which on gzip-heavy traffic was a
//! fifth of all instructions.
//!
//! Policy:
//! - **Reuse.** An inflate state and its 32 KiB output scratch are taken from a small per-thread
//!   pool (at most [`POOL_MAX`] idle entries; bounded memory) and reset, not allocated, per
//!   body; the scratch is zeroed once, when first allocated. Each body (each layer of a stack
//!   of codings) holds its own entry while it lives and gives it back when dropped.
//! - **Same results as flate2's decoders.** Output goes to the [`Sink`] as soon as it is
//!   inflated (the decoded-length cap applies chunk by chunk, as before). The gzip header is
//!   parsed here with flate2's rules (magic `1f 8b`, method 8, reserved flags clear, optional
//!   extra field, name and comment each at most 65535 bytes, header CRC checked when flagged);
//!   the state is a few counters, whatever the header's size. The 8-byte trailer is collected
//!   but, as before, a decoded body is kept whatever its CRC: the trailer only decides whether
//!   a body that decoded to nothing was gzip at all (its CRC and length must be zero). Bytes
//!   after the end of the compressed stream (after the gzip trailer) are ignored.

use super::body::Sink;
use flate2::{Crc, Decompress, FlushDecompress, Status};
use std::cell::RefCell;
use std::io::{self, Write};

/// Size of the output scratch (flate2's decoders used the same).
const SCRATCH: usize = 32 * 1024;
/// Idle inflate states kept per thread.
pub(super) const POOL_MAX: usize = 4;
/// Longest gzip name or comment accepted (flate2's limit).
const MAX_HEADER_FIELD: u32 = 65535;

const FHCRC: u8 = 1 << 1;
const FEXTRA: u8 = 1 << 2;
const FNAME: u8 = 1 << 3;
const FCOMMENT: u8 = 1 << 4;
const FRESERVED: u8 = 0xe0;

/// An inflate state (flate2 keeps it on the heap) and its output scratch.
struct State {
    d: Decompress,
    scratch: Box<[u8]>,
}

thread_local! {
    static POOL: RefCell<Vec<State>> = const { RefCell::new(Vec::new()) };
}

fn take_state(zlib: bool) -> State {
    let reused = POOL
        .try_with(|p| p.try_borrow_mut().ok().and_then(|mut p| p.pop()))
        .ok()
        .flatten();
    match reused {
        Some(mut s) => {
            s.d.reset(zlib);
            s
        }
        None => State {
            d: Decompress::new(zlib),
            scratch: vec![0; SCRATCH].into_boxed_slice(),
        },
    }
}

fn give_state(s: State) {
    let _ = POOL.try_with(move |p| {
        if let Ok(mut p) = p.try_borrow_mut() {
            if p.len() < POOL_MAX {
                p.push(s);
            }
        }
    });
}

/// The compressed format.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Format {
    /// gzip (RFC 1952): header, raw deflate, CRC-32 and length.
    Gzip,
    /// zlib (RFC 1950).
    Zlib,
    /// Raw deflate (RFC 1951).
    Raw,
}

/// Where a gzip member's parsing is.
#[derive(Debug)]
enum Gz {
    /// The 10 fixed header bytes (`n` seen so far).
    Fixed { buf: [u8; 10], n: u8 },
    /// The 2-byte length of the extra field.
    Xlen { buf: [u8; 2], n: u8 },
    /// Extra field bytes still to skip.
    Extra(u16),
    /// In the name (`len` bytes so far).
    Name(u32),
    /// In the comment.
    Comment(u32),
    /// The 2-byte header CRC.
    HeaderCrc { buf: [u8; 2], n: u8 },
    /// Deflate data.
    Body,
    /// The trailer (CRC-32 and length).
    Trailer { buf: [u8; 8], n: u8 },
}

/// One body's inflater (gzip, zlib or raw deflate).
pub(super) struct Inflate {
    state: Option<State>,
    format: Format,
    gz: Gz,
    flags: u8,
    header_crc: Option<Crc>,
    /// The deflate stream ended.
    ended: bool,
    /// Decoded output.
    pub(super) sink: Sink,
}

impl Drop for Inflate {
    fn drop(&mut self) {
        if let Some(s) = self.state.take() {
            give_state(s);
        }
    }
}

fn corrupt(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what)
}

/// Copies bytes from `data` into `buf[*n..]`; true once full.
fn fill<const N: usize>(buf: &mut [u8; N], n: &mut u8, data: &mut &[u8]) -> bool {
    let have = usize::from(*n).min(N);
    let want = (N - have).min(data.len());
    if let (Some(dst), Some(src)) = (buf.get_mut(have..have + want), data.get(..want)) {
        dst.copy_from_slice(src);
    }
    *data = data.get(want..).unwrap_or_default();
    *n = (have + want) as u8;
    have + want == N
}

impl Inflate {
    /// An inflater writing into `sink`.
    pub(super) fn new(format: Format, sink: Sink) -> Self {
        Inflate {
            state: Some(take_state(format == Format::Zlib)),
            format,
            gz: if format == Format::Gzip {
                Gz::Fixed { buf: [0; 10], n: 0 }
            } else {
                Gz::Body
            },
            flags: 0,
            header_crc: None,
            ended: false,
            sink,
        }
    }

    /// Feeds compressed bytes; `Ok(true)` when the body is done: bytes came after the end
    /// of the compressed stream (they are ignored), or the inflater could take no more.
    pub(super) fn write(&mut self, mut data: &[u8]) -> io::Result<bool> {
        while !data.is_empty() {
            match &mut self.gz {
                Gz::Body => {
                    if self.ended {
                        return Ok(true);
                    }
                    let Some(used) = self.inflate(data)? else {
                        return Ok(true);
                    };
                    data = data.get(used..).unwrap_or_default();
                    if !self.ended {
                        return Ok(false);
                    }
                    if self.format == Format::Gzip {
                        self.gz = Gz::Trailer { buf: [0; 8], n: 0 };
                    }
                }
                Gz::Trailer { buf, n } => {
                    if fill(buf, n, &mut data) && !data.is_empty() {
                        return Ok(true);
                    }
                }
                _ => self.header_step(&mut data)?,
            }
        }
        Ok(false)
    }

    /// One step of the gzip header: takes bytes from `data` or moves on (always one or the
    /// other, so the caller's loop ends).
    fn header_step(&mut self, data: &mut &[u8]) -> io::Result<()> {
        match &mut self.gz {
            Gz::Fixed { buf, n } => {
                if fill(buf, n, data) {
                    let b = *buf;
                    if b[0] != 0x1f || b[1] != 0x8b || b[2] != 8 || b[3] & FRESERVED != 0 {
                        return Err(corrupt("invalid gzip header"));
                    }
                    self.flags = b[3];
                    if self.flags & FHCRC != 0 {
                        let mut c = Crc::new();
                        c.update(&b);
                        self.header_crc = Some(c);
                    }
                    self.gz = if self.flags & FEXTRA != 0 {
                        Gz::Xlen { buf: [0; 2], n: 0 }
                    } else {
                        self.after_extra()
                    };
                }
            }
            Gz::Xlen { buf, n } => {
                if fill(buf, n, data) {
                    let b = *buf;
                    if let Some(c) = self.header_crc.as_mut() {
                        c.update(&b);
                    }
                    self.gz = Gz::Extra(u16::from_le_bytes(b));
                }
            }
            Gz::Extra(left) => {
                let k = usize::from(*left).min(data.len());
                *left = left.saturating_sub(k as u16);
                let done = *left == 0;
                let (taken, rest) = data.split_at(k);
                if let Some(c) = self.header_crc.as_mut() {
                    c.update(taken);
                }
                *data = rest;
                if done {
                    self.gz = self.after_extra();
                }
            }
            Gz::Name(len) | Gz::Comment(len) => {
                let (field, ended) = match memchr::memchr(0, data) {
                    Some(i) => (data.get(..i).unwrap_or_default(), true),
                    None => (*data, false),
                };
                if u64::from(*len) + field.len() as u64 > u64::from(MAX_HEADER_FIELD) {
                    return Err(corrupt("gzip header field too long"));
                }
                *len += field.len() as u32;
                let used = field.len() + usize::from(ended);
                if let Some(c) = self.header_crc.as_mut() {
                    c.update(data.get(..used).unwrap_or_default());
                }
                *data = data.get(used..).unwrap_or_default();
                if ended {
                    let was_name = matches!(self.gz, Gz::Name(_));
                    self.gz = if was_name && self.flags & FCOMMENT != 0 {
                        Gz::Comment(0)
                    } else {
                        self.after_fields()
                    };
                }
            }
            Gz::HeaderCrc { buf, n } => {
                if fill(buf, n, data) {
                    let stored = u16::from_le_bytes(*buf);
                    let calc = self.header_crc.as_ref().map_or(0, |c| c.sum() as u16);
                    if stored != calc {
                        return Err(corrupt("corrupt gzip header"));
                    }
                    self.gz = Gz::Body;
                }
            }
            Gz::Body | Gz::Trailer { .. } => {}
        }
        Ok(())
    }

    /// What follows the extra field: the name, the comment, or what follows them.
    fn after_extra(&self) -> Gz {
        if self.flags & FNAME != 0 {
            Gz::Name(0)
        } else if self.flags & FCOMMENT != 0 {
            Gz::Comment(0)
        } else {
            self.after_fields()
        }
    }

    /// What follows the name and comment: the header CRC or the deflate data.
    fn after_fields(&self) -> Gz {
        if self.flags & FHCRC != 0 {
            Gz::HeaderCrc { buf: [0; 2], n: 0 }
        } else {
            Gz::Body
        }
    }

    /// Inflates from `data` into the sink; returns the bytes taken (all, unless the stream
    /// ended inside them), or `None` when the inflater took nothing and gave nothing (as
    /// flate2's decoders, the body is then done).
    fn inflate(&mut self, data: &[u8]) -> io::Result<Option<usize>> {
        let Some(st) = self.state.as_mut() else {
            return Ok(None);
        };
        let mut used = 0usize;
        loop {
            let input = data.get(used..).unwrap_or_default();
            let (in0, out0) = (st.d.total_in(), st.d.total_out());
            let status =
                st.d.decompress(input, &mut st.scratch, FlushDecompress::None)
                    .map_err(|_| corrupt("corrupt deflate stream"))?;
            let took = st.d.total_in().saturating_sub(in0) as usize;
            let made = st.d.total_out().saturating_sub(out0) as usize;
            used = used.saturating_add(took);
            if made > 0 {
                self.sink
                    .write_all(st.scratch.get(..made).unwrap_or_default())?;
            }
            if status == Status::StreamEnd {
                self.ended = true;
                return Ok(Some(used));
            }
            if took == 0 && made == 0 && used < data.len() {
                return Ok(None);
            }
            if made < st.scratch.len() && used >= data.len() {
                return Ok(Some(used));
            }
        }
    }

    /// At the end of the body: was the compressed stream complete? (Only consulted when
    /// nothing was decoded; see the module docs.)
    pub(super) fn complete(&self) -> bool {
        match &self.gz {
            Gz::Body => self.ended,
            Gz::Trailer { buf, n } => {
                // Nothing decoded: CRC-32 and length of the empty output are zero.
                usize::from(*n) == buf.len() && (self.sink.len != 0 || buf.iter().all(|&b| b == 0))
            }
            _ => false,
        }
    }
}
