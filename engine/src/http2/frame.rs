//! HTTP/2 frames (RFC 9113 §4, §6) as a checked view over bytes.
//!
//! [`Frame::parse`] validates a frame once — header, length against the caller's cap, the
//! fixed payload sizes, the padding, the stream-id rules — and returns a [`Frame`] whose
//! variants hold plain values and sub-slices of the input. Nothing after that can index out
//! of bounds: there are no accessors that re-read the bytes.
//!
//! Policy (a passive observer, not an endpoint):
//! - A frame that breaks a rule an endpoint would answer with a *connection* error (a fixed
//!   size frame of the wrong size, padding longer than the payload, a stream id where none is
//!   allowed or none where one is needed) is returned as [`FrameError`]; the caller counts it
//!   and stops trusting the direction (the framing may be lost).
//! - Unknown frame types are returned as [`Frame::Unknown`] and ignored by the caller, as
//!   RFC 9113 §4.1 requires of endpoints. Unknown flags and the reserved bit are ignored.
//! - [`FrameHeader::plausible`] is the stricter check used to find frame boundaries when a
//!   connection is picked up mid-stream (known type, length within the default maximum frame
//!   size, flags a sender would set, stream id where the type needs one).

/// Length of a frame header.
pub const HEADER_LEN: usize = 9;

/// The client connection preface (RFC 9113 §3.4).
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The default SETTINGS_MAX_FRAME_SIZE (RFC 9113 §6.5.2).
pub const DEFAULT_MAX_FRAME_SIZE: u32 = 16_384;

/// Frame type codes.
pub mod kind {
    /// DATA.
    pub const DATA: u8 = 0x0;
    /// HEADERS.
    pub const HEADERS: u8 = 0x1;
    /// PRIORITY.
    pub const PRIORITY: u8 = 0x2;
    /// RST_STREAM.
    pub const RST_STREAM: u8 = 0x3;
    /// SETTINGS.
    pub const SETTINGS: u8 = 0x4;
    /// PUSH_PROMISE.
    pub const PUSH_PROMISE: u8 = 0x5;
    /// PING.
    pub const PING: u8 = 0x6;
    /// GOAWAY.
    pub const GOAWAY: u8 = 0x7;
    /// WINDOW_UPDATE.
    pub const WINDOW_UPDATE: u8 = 0x8;
    /// CONTINUATION.
    pub const CONTINUATION: u8 = 0x9;
}

/// Flag bits.
pub mod flag {
    /// END_STREAM (DATA, HEADERS).
    pub const END_STREAM: u8 = 0x1;
    /// ACK (SETTINGS, PING).
    pub const ACK: u8 = 0x1;
    /// END_HEADERS (HEADERS, PUSH_PROMISE, CONTINUATION).
    pub const END_HEADERS: u8 = 0x4;
    /// PADDED (DATA, HEADERS, PUSH_PROMISE).
    pub const PADDED: u8 = 0x8;
    /// PRIORITY (HEADERS).
    pub const PRIORITY: u8 = 0x20;
}

/// The 9-byte frame header.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// Payload length (24 bits).
    pub len: u32,
    /// Frame type code (see [`kind`]).
    pub kind: u8,
    /// Flags byte.
    pub flags: u8,
    /// Stream identifier (31 bits; the reserved bit is dropped).
    pub stream_id: u32,
}

impl FrameHeader {
    /// Read a frame header from the start of `buf`, if 9 bytes are there.
    pub fn read(buf: &[u8]) -> Option<FrameHeader> {
        let h: &[u8; HEADER_LEN] = buf.get(..HEADER_LEN)?.try_into().ok()?;
        Some(FrameHeader {
            len: u32::from_be_bytes([0, h[0], h[1], h[2]]),
            kind: h[3],
            flags: h[4],
            stream_id: u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff,
        })
    }

    /// Would a conforming sender plausibly send this header with default settings? Used to
    /// find frame boundaries in a connection picked up mid-stream; stricter than
    /// [`Frame::parse`] (known types only, flags limited to the type's defined ones, length
    /// within the default max frame size, fixed lengths exact).
    pub fn plausible(&self) -> bool {
        use kind::*;
        let needs_stream = matches!(
            self.kind,
            DATA | HEADERS | PRIORITY | RST_STREAM | PUSH_PROMISE | CONTINUATION
        );
        let no_stream = matches!(self.kind, SETTINGS | PING | GOAWAY);
        if (needs_stream && self.stream_id == 0) || (no_stream && self.stream_id != 0) {
            return false;
        }
        if self.len > DEFAULT_MAX_FRAME_SIZE {
            return false;
        }
        let allowed: u8 = match self.kind {
            DATA => flag::END_STREAM | flag::PADDED,
            HEADERS => flag::END_STREAM | flag::END_HEADERS | flag::PADDED | flag::PRIORITY,
            PRIORITY | RST_STREAM | GOAWAY | WINDOW_UPDATE => 0,
            SETTINGS | PING => flag::ACK,
            PUSH_PROMISE => flag::END_HEADERS | flag::PADDED,
            CONTINUATION => flag::END_HEADERS,
            _ => return false,
        };
        if self.flags & !allowed != 0 {
            return false;
        }
        match self.kind {
            PRIORITY => self.len == 5,
            RST_STREAM | WINDOW_UPDATE => self.len == 4,
            PING => self.len == 8,
            SETTINGS => {
                self.len.is_multiple_of(6) && (self.flags & flag::ACK == 0 || self.len == 0)
            }
            GOAWAY => self.len >= 8,
            _ => true,
        }
    }
}

/// Stream dependency and weight (HEADERS with PRIORITY, and PRIORITY frames); deprecated
/// by RFC 9113 but still parsed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Priority {
    /// Exclusive flag.
    pub exclusive: bool,
    /// The stream depended on.
    pub dependency: u32,
    /// Weight minus one, as on the wire.
    pub weight: u8,
}

/// One parsed frame; slices point into the buffer given to [`Frame::parse`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// DATA: payload without padding.
    Data {
        /// Stream.
        stream_id: u32,
        /// END_STREAM set.
        end_stream: bool,
        /// The data, padding removed.
        data: &'a [u8],
        /// Bytes counted against flow control (the whole payload, padding included).
        flow_len: u32,
    },
    /// HEADERS: a header block fragment.
    Headers {
        /// Stream.
        stream_id: u32,
        /// END_STREAM set.
        end_stream: bool,
        /// END_HEADERS set (no CONTINUATION follows).
        end_headers: bool,
        /// Priority fields, when the PRIORITY flag is set.
        priority: Option<Priority>,
        /// Header block fragment, padding removed.
        fragment: &'a [u8],
    },
    /// PRIORITY.
    Priority {
        /// Stream.
        stream_id: u32,
        /// Fields.
        priority: Priority,
    },
    /// RST_STREAM.
    RstStream {
        /// Stream.
        stream_id: u32,
        /// Error code.
        error_code: u32,
    },
    /// SETTINGS (parameters are 6-byte pairs; see [`Frame::settings`]).
    Settings {
        /// ACK flag (then the payload is empty).
        ack: bool,
        /// Raw parameters, a multiple of 6 bytes.
        params: &'a [u8],
    },
    /// PUSH_PROMISE: reserves a server-initiated stream.
    PushPromise {
        /// The associated (client-initiated) stream.
        stream_id: u32,
        /// END_HEADERS set.
        end_headers: bool,
        /// The promised stream.
        promised_id: u32,
        /// Header block fragment (the promised request's headers), padding removed.
        fragment: &'a [u8],
    },
    /// PING.
    Ping {
        /// ACK flag.
        ack: bool,
    },
    /// GOAWAY.
    GoAway {
        /// Last stream the sender might have processed.
        last_stream_id: u32,
        /// Error code.
        error_code: u32,
        /// Opaque debug data (never logged: it may carry captured values).
        debug_len: usize,
    },
    /// WINDOW_UPDATE.
    WindowUpdate {
        /// Stream (0 for the connection).
        stream_id: u32,
        /// Increment (31 bits).
        increment: u32,
    },
    /// CONTINUATION: more of a header block.
    Continuation {
        /// Stream.
        stream_id: u32,
        /// END_HEADERS set.
        end_headers: bool,
        /// Header block fragment.
        fragment: &'a [u8],
    },
    /// A frame type this parser does not know (to be ignored).
    Unknown {
        /// The header.
        header: FrameHeader,
    },
}

/// Why a frame could not be parsed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// Payload longer than the caller's cap.
    TooLong {
        /// The header, so a caller may skip `len` bytes.
        header: FrameHeader,
    },
    /// A fixed-size frame with the wrong length.
    BadLength(u8),
    /// Pad length not smaller than the remaining payload.
    BadPadding(u8),
    /// Stream id 0 where a stream is required, or non-zero where none is allowed.
    BadStreamId(u8),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::TooLong { header } => {
                write!(
                    f,
                    "frame type {} of {} bytes is over the cap",
                    header.kind, header.len
                )
            }
            FrameError::BadLength(k) => write!(f, "frame type {k} with a bad length"),
            FrameError::BadPadding(k) => write!(f, "frame type {k} with bad padding"),
            FrameError::BadStreamId(k) => write!(f, "frame type {k} with a bad stream id"),
        }
    }
}

impl std::error::Error for FrameError {}

fn be32(b: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(..4)?.try_into().ok()?))
}

/// Strip padding: with PADDED the first byte is the pad length, padding at the end.
fn unpad(kind: u8, flags: u8, payload: &[u8]) -> Result<&[u8], FrameError> {
    if flags & flag::PADDED == 0 {
        return Ok(payload);
    }
    let (&pad, rest) = payload.split_first().ok_or(FrameError::BadPadding(kind))?;
    let keep = rest
        .len()
        .checked_sub(usize::from(pad))
        .ok_or(FrameError::BadPadding(kind))?;
    rest.get(..keep).ok_or(FrameError::BadPadding(kind))
}

fn priority(b: &[u8]) -> Option<Priority> {
    let dep = be32(b)?;
    Some(Priority {
        exclusive: dep & 0x8000_0000 != 0,
        dependency: dep & 0x7fff_ffff,
        weight: *b.get(4)?,
    })
}

impl<'a> Frame<'a> {
    /// Parse one frame from the start of `buf`. `Ok(None)`: not all of it is there yet.
    /// On success also returns the bytes consumed (9 + payload length). Payloads longer than
    /// `max_len` are refused with [`FrameError::TooLong`] before they are buffered.
    pub fn parse(buf: &'a [u8], max_len: u32) -> Result<Option<(Frame<'a>, usize)>, FrameError> {
        let Some(h) = FrameHeader::read(buf) else {
            return Ok(None);
        };
        if h.len > max_len {
            return Err(FrameError::TooLong { header: h });
        }
        let total = HEADER_LEN + h.len as usize;
        let Some(payload) = buf.get(HEADER_LEN..total) else {
            return Ok(None);
        };
        Ok(Some((Self::from_parts(h, payload)?, total)))
    }

    /// Build a frame from its header and exactly its payload.
    pub fn from_parts(h: FrameHeader, payload: &'a [u8]) -> Result<Frame<'a>, FrameError> {
        use kind::*;
        let k = h.kind;
        let sid = h.stream_id;
        let need_stream = |f: Frame<'a>| {
            if sid == 0 {
                Err(FrameError::BadStreamId(k))
            } else {
                Ok(f)
            }
        };
        let no_stream = |f: Frame<'a>| {
            if sid != 0 {
                Err(FrameError::BadStreamId(k))
            } else {
                Ok(f)
            }
        };
        let bad_len = FrameError::BadLength(k);
        match k {
            DATA => {
                let data = unpad(k, h.flags, payload)?;
                need_stream(Frame::Data {
                    stream_id: sid,
                    end_stream: h.flags & flag::END_STREAM != 0,
                    data,
                    flow_len: h.len,
                })
            }
            HEADERS => {
                let body = unpad(k, h.flags, payload)?;
                let (prio, fragment) = if h.flags & flag::PRIORITY != 0 {
                    (
                        priority(body).ok_or(bad_len)?,
                        body.get(5..).ok_or(bad_len)?,
                    )
                } else {
                    return need_stream(Frame::Headers {
                        stream_id: sid,
                        end_stream: h.flags & flag::END_STREAM != 0,
                        end_headers: h.flags & flag::END_HEADERS != 0,
                        priority: None,
                        fragment: body,
                    });
                };
                need_stream(Frame::Headers {
                    stream_id: sid,
                    end_stream: h.flags & flag::END_STREAM != 0,
                    end_headers: h.flags & flag::END_HEADERS != 0,
                    priority: Some(prio),
                    fragment,
                })
            }
            PRIORITY => {
                if payload.len() != 5 {
                    return Err(bad_len);
                }
                need_stream(Frame::Priority {
                    stream_id: sid,
                    priority: priority(payload).ok_or(bad_len)?,
                })
            }
            RST_STREAM => {
                if payload.len() != 4 {
                    return Err(bad_len);
                }
                need_stream(Frame::RstStream {
                    stream_id: sid,
                    error_code: be32(payload).ok_or(bad_len)?,
                })
            }
            SETTINGS => {
                let ack = h.flags & flag::ACK != 0;
                if !payload.len().is_multiple_of(6) || (ack && !payload.is_empty()) {
                    return Err(bad_len);
                }
                no_stream(Frame::Settings {
                    ack,
                    params: payload,
                })
            }
            PUSH_PROMISE => {
                let body = unpad(k, h.flags, payload)?;
                let promised = be32(body).ok_or(bad_len)? & 0x7fff_ffff;
                need_stream(Frame::PushPromise {
                    stream_id: sid,
                    end_headers: h.flags & flag::END_HEADERS != 0,
                    promised_id: promised,
                    fragment: body.get(4..).ok_or(bad_len)?,
                })
            }
            PING => {
                if payload.len() != 8 {
                    return Err(bad_len);
                }
                no_stream(Frame::Ping {
                    ack: h.flags & flag::ACK != 0,
                })
            }
            GOAWAY => {
                let last = be32(payload).ok_or(bad_len)? & 0x7fff_ffff;
                let code = be32(payload.get(4..).ok_or(bad_len)?).ok_or(bad_len)?;
                no_stream(Frame::GoAway {
                    last_stream_id: last,
                    error_code: code,
                    debug_len: payload.len().saturating_sub(8),
                })
            }
            WINDOW_UPDATE => {
                if payload.len() != 4 {
                    return Err(bad_len);
                }
                Ok(Frame::WindowUpdate {
                    stream_id: sid,
                    increment: be32(payload).ok_or(bad_len)? & 0x7fff_ffff,
                })
            }
            CONTINUATION => need_stream(Frame::Continuation {
                stream_id: sid,
                end_headers: h.flags & flag::END_HEADERS != 0,
                fragment: payload,
            }),
            _ => Ok(Frame::Unknown { header: h }),
        }
    }

    /// The SETTINGS parameters of a [`Frame::Settings`] as (identifier, value) pairs; empty
    /// for other frames.
    pub fn settings(&self) -> impl Iterator<Item = (u16, u32)> + 'a {
        let params: &'a [u8] = match self {
            Frame::Settings { params, .. } => params,
            _ => &[],
        };
        params.chunks_exact(6).map(|c| {
            let mut id = [0u8; 2];
            let mut v = [0u8; 4];
            id.copy_from_slice(c.get(..2).unwrap_or(&[0, 0]));
            v.copy_from_slice(c.get(2..6).unwrap_or(&[0, 0, 0, 0]));
            (u16::from_be_bytes(id), u32::from_be_bytes(v))
        })
    }
}

/// Identifier of SETTINGS_HEADER_TABLE_SIZE.
pub const SETTINGS_HEADER_TABLE_SIZE: u16 = 0x1;
/// Identifier of SETTINGS_MAX_FRAME_SIZE.
pub const SETTINGS_MAX_FRAME_SIZE: u16 = 0x5;

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, flags: u8, sid: u32, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        let len = payload.len() as u32;
        v.extend_from_slice(&len.to_be_bytes()[1..]);
        v.push(kind);
        v.push(flags);
        v.extend_from_slice(&sid.to_be_bytes());
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn incomplete_is_none() {
        let f = frame(kind::DATA, 0, 1, b"hello");
        for cut in 0..f.len() {
            assert_eq!(Frame::parse(&f[..cut], 1 << 14), Ok(None), "cut {cut}");
        }
        assert!(Frame::parse(&f, 1 << 14).unwrap().is_some());
    }

    #[test]
    fn data_with_padding() {
        let f = frame(
            kind::DATA,
            flag::PADDED | flag::END_STREAM,
            3,
            b"\x02abc\0\0",
        );
        let (fr, n) = Frame::parse(&f, 1 << 14).unwrap().unwrap();
        assert_eq!(n, f.len());
        assert_eq!(
            fr,
            Frame::Data {
                stream_id: 3,
                end_stream: true,
                data: b"abc",
                flow_len: 6
            }
        );
        // padding as long as the rest: empty data is fine; one more is an error
        let f = frame(kind::DATA, flag::PADDED, 3, b"\x03abc");
        assert!(matches!(
            Frame::parse(&f, 1 << 14).unwrap().unwrap().0,
            Frame::Data { data: b"", .. }
        ));
        let f = frame(kind::DATA, flag::PADDED, 3, b"\x04abc");
        assert_eq!(Frame::parse(&f, 1 << 14), Err(FrameError::BadPadding(0)));
        let f = frame(kind::DATA, flag::PADDED, 3, b"");
        assert_eq!(Frame::parse(&f, 1 << 14), Err(FrameError::BadPadding(0)));
        let f = frame(kind::DATA, 0, 0, b"x");
        assert_eq!(Frame::parse(&f, 1 << 14), Err(FrameError::BadStreamId(0)));
    }

    #[test]
    fn headers_with_priority_and_padding() {
        let f = frame(
            kind::HEADERS,
            flag::PADDED | flag::PRIORITY | flag::END_HEADERS,
            5,
            b"\x01\x80\0\0\x03\x0f\x82X",
        );
        let (fr, _) = Frame::parse(&f, 1 << 14).unwrap().unwrap();
        assert_eq!(
            fr,
            Frame::Headers {
                stream_id: 5,
                end_stream: false,
                end_headers: true,
                priority: Some(Priority {
                    exclusive: true,
                    dependency: 3,
                    weight: 15
                }),
                fragment: b"\x82",
            }
        );
        // priority fields cut short
        let f = frame(kind::HEADERS, flag::PRIORITY, 5, b"\0\0\0");
        assert_eq!(Frame::parse(&f, 1 << 14), Err(FrameError::BadLength(1)));
    }

    #[test]
    fn fixed_sizes_and_stream_rules() {
        let bad = [
            frame(kind::PRIORITY, 0, 1, b"1234"),
            frame(kind::RST_STREAM, 0, 1, b"123"),
            frame(kind::SETTINGS, 0, 0, b"12345"),
            frame(kind::SETTINGS, flag::ACK, 0, b"123456"),
            frame(kind::PING, 0, 0, b"1234567"),
            frame(kind::GOAWAY, 0, 0, b"1234567"),
            frame(kind::WINDOW_UPDATE, 0, 0, b"12345"),
            frame(kind::PUSH_PROMISE, 0, 1, b"123"),
        ];
        for f in &bad {
            assert!(
                matches!(Frame::parse(f, 1 << 14), Err(FrameError::BadLength(_))),
                "{f:?}"
            );
        }
        assert_eq!(
            Frame::parse(&frame(kind::PING, 0, 1, b"12345678"), 1 << 14),
            Err(FrameError::BadStreamId(kind::PING))
        );
        assert_eq!(
            Frame::parse(&frame(kind::CONTINUATION, 0, 0, b""), 1 << 14),
            Err(FrameError::BadStreamId(kind::CONTINUATION))
        );
    }

    #[test]
    fn settings_goaway_unknown() {
        let f = frame(kind::SETTINGS, 0, 0, b"\0\x01\0\0\x10\0\0\x05\0\0\x40\0");
        let (fr, _) = Frame::parse(&f, 1 << 14).unwrap().unwrap();
        let s: Vec<_> = fr.settings().collect();
        assert_eq!(s, vec![(1, 4096), (5, 16384)]);
        let f = frame(kind::GOAWAY, 0, 0, b"\x80\0\0\x07\0\0\0\x02debug");
        assert_eq!(
            Frame::parse(&f, 1 << 14).unwrap().unwrap().0,
            Frame::GoAway {
                last_stream_id: 7,
                error_code: 2,
                debug_len: 5
            }
        );
        let f = frame(0xfa, 0xff, 9, b"whatever");
        assert!(matches!(
            Frame::parse(&f, 1 << 14).unwrap().unwrap().0,
            Frame::Unknown {
                header: FrameHeader { kind: 0xfa, .. }
            }
        ));
    }

    #[test]
    fn too_long_refused_before_buffering() {
        let h = [0x01, 0, 0, 0, 0, 0, 0, 0, 1];
        assert!(matches!(
            Frame::parse(&h, 1 << 14),
            Err(FrameError::TooLong {
                header: FrameHeader { len: 65536, .. }
            })
        ));
    }

    #[test]
    fn plausible_headers() {
        let ok = FrameHeader::read(&frame(kind::HEADERS, 0x25, 1, b"")).unwrap();
        assert!(ok.plausible());
        let bad_flags = FrameHeader::read(&frame(kind::HEADERS, 0x02, 1, b"")).unwrap();
        assert!(!bad_flags.plausible());
        let text = FrameHeader::read(b"GET / HTTP/1.1\r\n").unwrap();
        assert!(!text.plausible());
    }

    #[test]
    fn never_panics_on_any_short_input() {
        // every type, every flag byte, small payloads of every length
        for k in 0..=10u8 {
            for fl in [0u8, 0x01, 0x04, 0x08, 0x20, 0x2d, 0xff] {
                for len in 0..12 {
                    let p: Vec<u8> = (0..len as u8).map(|i| i.wrapping_mul(37)).collect();
                    for sid in [0, 1] {
                        let f = frame(k, fl, sid, &p);
                        let _ = Frame::parse(&f, 1 << 14);
                    }
                }
            }
        }
    }
}
