//! Value flow: identifiers the API hands out, kept as keyed hashes only.
//!
//! A value the server hands out (a string under an identifier-like key of a 2xx JSON response
//! body, the path of a `Location` header, an `ETag`) or that a client sends when it creates or
//! changes something (a string under an identifier-like key of a `POST`/`PUT`/`PATCH` JSON
//! request body), or a part of a URI with a non-HTTP scheme found under any key of those
//! bodies (`"content_uri": "mxc://example.org/AbCd"`: its authority and path segments), is a
//! *value*; when the same text later (or earlier: order is never used)
//! shows up as a literal path segment, that segment is a parameter value, not a route.
//!
//! Identifier-like keys: the key's last word (split at `_`, `-`, `.` and lower→upper case
//! changes) is one of `id`, `ids`, `name`, `names`, `key`, `tag`, `tags`, `slug`, `alias`,
//! `user`, `username`, `login`, `handle`, or the key is `ID`-suffixed (`ContainerID`). Under
//! `type` and `kind` a plain lowercase word is a category, often a collection's own name
//! (JSON:API's `"type": "articles"`), so only qualified names are values there
//! (`m.room.message`, `org.example.ping`). Only strings of 1–64 bytes without whitespace or `/` whose segment class is
//! not identifier-like are kept: identifier-like segments (UUIDs, numbers, hashes) become
//! parameters anyway, so hashing them would only cost memory.
//!
//! Some values *name a resource*, and are also kept in a second set ([`ValueFlow::c`]): the
//! last segment of a `Location` answering a `POST` on its parent path (`POST /things` ->
//! `Location: /things/x`: the member the POST created; a `Location` anywhere else, such as a
//! status monitor `/jobs/7/status`, is a plain value), and the parts of non-HTTP URIs (the
//! API serves the resource by them). [`crate::fold`] folds such a literal even when it is
//! the only one at its position.
//!
//! # What is stored, and privacy
//!
//! Never a value: a 64-bit SipHash-2-4 of the value under [`FLOW_KEY`], per service, the
//! [`MAX_FLOW`] smallest hashes of all values seen (a bottom-k sample), and likewise of the
//! values that name a resource. The key is a fixed,
//! public constant because the model merges across agents and sources: every agent must hash
//! a value to the same number, or a value handed out to one replica and used on another
//! would never meet. The privacy property is therefore that of an unsalted hash of a
//! low-entropy string: the stored numbers do not reveal a value, but whoever holds a model
//! can *test a guess* (hash a candidate name and look it up). That is no more than the model
//! already shows for such values when they appear in a path (the literal segment itself is
//! stored until it is folded), only values shaped like route words are hashed (never ids,
//! tokens, e-mails or anything with whitespace), and a bottom-k sample of a busy service
//! holds a fraction of them. Nothing derived from the hashes is exported: the OpenAPI
//! document, metrics and `--explain` show only counts (`value-flow hits N`).
//!
//! # Merging
//!
//! "The K smallest hashes of a union" is associative, commutative and idempotent, and the
//! same whatever the split: learning traffic in one piece or among any number of sources
//! and merged in any order gives the same set ([`ValueFlow::combine`]). Membership is
//! answered only below the sample's threshold: once the set is full, a hash above its
//! largest element is "unknown" and read as no evidence, the same answer for every split.
//!
//! Bounds: at most [`MAX_FLOW_VALUES`] strings per body (more are counted in
//! [`ValueFlow::skipped`]), JSON walked to depth [`MAX_FLOW_DEPTH`].
//!
//! # One parse per body
//!
//! A body the schema inference also reads gives its values during the schema's own streaming
//! walk ([`Taken`], filled by [`crate::schema`]), so it is parsed once; the rules above are
//! applied in one place ([`Taken::string`]) whichever walk calls them, and a body the schema
//! did not walk completely (not inspected, truncated, broken, a stream of documents) is
//! walked here as before. The values are applied in the same order either way (response
//! body, `Location`, `ETag`, request body), so the per-exchange budget takes the same ones.

use crate::classify::{classify_segment, is_plain_word};
use crate::evidence::{cnt, is_zero, Combine, Mode};
use crate::Observation;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Max hashes kept per service (a bottom-k sample of the values seen).
pub const MAX_FLOW: usize = 1024;
/// Max strings taken from one body.
pub const MAX_FLOW_VALUES: usize = 256;
/// Max JSON depth walked.
pub const MAX_FLOW_DEPTH: usize = 32;
/// Max value length hashed (the literal segment cap).
pub const MAX_FLOW_LEN: usize = 64;

/// The SipHash key (public, fixed: see the module doc for why, and what it implies).
pub const FLOW_KEY: (u64, u64) = (0x6170_6974_6170_2d76, 0x616c_7565_666c_6f77);

/// Values handed out by a service, as a bottom-k set of keyed hashes (see the module doc).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ValueFlow {
    /// The [`MAX_FLOW`] smallest hashes seen.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub h: BTreeSet<u64>,
    /// Strings not taken because a body had more than [`MAX_FLOW_VALUES`].
    #[serde(default, skip_serializing_if = "is_zero")]
    pub skipped: u64,
    /// The [`MAX_FLOW`] smallest hashes of *named resources*: the last segment of the
    /// `Location` of a 2xx answer to a `POST` on its parent (the member the POST created),
    /// and the authority and path segments of non-HTTP URIs (`mxc://server/media`). A
    /// subset of `h`; stronger evidence, read by [`crate::fold::named_resource`].
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub c: BTreeSet<u64>,
}

impl Combine for ValueFlow {
    fn combine(&mut self, o: &Self, m: Mode) {
        for (mine, theirs) in [(&mut self.h, &o.h), (&mut self.c, &o.c)] {
            mine.extend(theirs.iter().copied());
            while mine.len() > MAX_FLOW {
                mine.pop_last();
            }
        }
        cnt(&mut self.skipped, o.skipped, m);
    }
}

impl ValueFlow {
    /// No evidence at all.
    pub fn is_empty(&self) -> bool {
        self.h.is_empty() && self.c.is_empty() && self.skipped == 0
    }

    /// Was this text (a literal path segment, percent-decoded) named as a resource (see
    /// [`ValueFlow::c`])? `false` also when the sample cannot tell.
    pub fn named(&self, segment: &str) -> bool {
        if self.c.is_empty() {
            return false;
        }
        let d = crate::endpoint::pct_decode(segment, false);
        self.c.contains(&hash(&d))
    }

    /// Was this text (a literal path segment, percent-decoded) handed out as a value?
    /// `false` also when the sample cannot tell (see the module doc).
    pub fn hit(&self, segment: &str) -> bool {
        if self.h.is_empty() {
            return false;
        }
        let d = crate::endpoint::pct_decode(segment, false);
        self.h.contains(&hash(&d))
    }

    /// Take the values of one exchange (see the module doc for which).
    pub fn observe(&mut self, obs: &Observation) {
        self.observe_taken(obs, None, None);
    }

    /// [`ValueFlow::observe`], with the values of the request and response bodies already
    /// collected by another walk of them ([`Taken::finish`]ed; the others are walked here).
    pub(crate) fn observe_taken(
        &mut self,
        obs: &Observation,
        request: Option<&Taken>,
        response: Option<&Taken>,
    ) {
        let mut budget = MAX_FLOW_VALUES;
        let (want_req, want_resp) = wanted(obs);
        let ok = obs.status.is_some_and(|s| (200..300).contains(&s));
        if want_resp {
            if let Some(b) = obs.response_body.as_deref() {
                self.body(b, response, &mut budget);
            }
        }
        if ok {
            if let Some(loc) = obs.response_header("location") {
                let path = url_path(loc).map(|p| p.trim_end_matches('/'));
                if let Some((parent, last)) = path.and_then(|p| p.rsplit_once('/')) {
                    // `POST /things` answered `Location: /things/x`: x is a member it created
                    let req = url_path(&obs.target).map(|p| p.trim_end_matches('/'));
                    let created = obs.method == "POST"
                        && !parent.is_empty()
                        && req.is_some_and(|r| pct_eq(parent, r));
                    let last = crate::endpoint::pct_decode(last, false);
                    if created {
                        self.named_value(&last, &mut budget);
                    } else {
                        self.value(&last, &mut budget);
                    }
                }
            }
        }
        if let Some(e) = obs.response_header("etag") {
            let e = e.trim();
            let e = e.strip_prefix("W/").unwrap_or(e);
            let e = e.trim_matches('"');
            self.value(e, &mut budget);
        }
        if want_req {
            if let Some(b) = obs.request_body.as_deref() {
                self.body(b, request, &mut budget);
            }
        }
    }

    /// The values of body `b`: `taken` when another walk collected them completely.
    fn body(&mut self, b: &[u8], taken: Option<&Taken>, budget: &mut usize) {
        match taken.filter(|t| t.done) {
            Some(t) => self.apply(t, budget),
            None => {
                let mut t = Taken::default();
                t.walk(b);
                self.apply(&t, budget);
            }
        }
    }

    /// Adds the values one body gave, in order, within the exchange's `budget`.
    fn apply(&mut self, t: &Taken, budget: &mut usize) {
        for &(h, named) in &t.h {
            self.add(h, named, budget);
        }
        // a body holds more than the whole exchange's budget: these are all over it
        self.skipped = self.skipped.saturating_add(t.more);
    }

    /// A value that names a resource: into `h` and `c`.
    fn named_value(&mut self, s: &str, budget: &mut usize) {
        if let Some(h) = candidate(s) {
            self.add(h, true, budget);
        }
    }

    /// Takes one value into `h` (see the module doc).
    fn value(&mut self, s: &str, budget: &mut usize) {
        if let Some(h) = candidate(s) {
            self.add(h, false, budget);
        }
    }

    /// Takes the value hashed `h` into `h` (and `c` when it names a resource), within the
    /// exchange's `budget`.
    fn add(&mut self, h: u64, named: bool, budget: &mut usize) {
        if *budget == 0 {
            self.skipped = self.skipped.saturating_add(1);
            return;
        }
        *budget -= 1;
        insert_bottom_k(&mut self.h, h);
        if named {
            insert_bottom_k(&mut self.c, h);
        }
    }
}

/// Which JSON bodies of `obs` value flow reads: (request, response) (see the module doc).
pub(crate) fn wanted(obs: &Observation) -> (bool, bool) {
    let ok = obs.status.is_some_and(|s| (200..300).contains(&s));
    let resp = ok
        && obs
            .response_body
            .as_deref()
            .is_some_and(|b| is_json(obs.response_header("content-type"), b));
    let req = matches!(obs.method.as_str(), "POST" | "PUT" | "PATCH")
        && obs
            .request_body
            .as_deref()
            .is_some_and(|b| is_json(obs.request_header("content-type"), b));
    (req, resp)
}

/// The hash of `s` if it is a value that may be taken (see the module doc). Identifier-like
/// values are not, and never count against the budget: what a body gives is a function of
/// the body alone, whatever the sample holds (split = whole).
fn candidate(s: &str) -> Option<u64> {
    // ASCII (the common case) is tested by byte: a space, a control byte or `/`
    let spaced = |s: &str| {
        if s.is_ascii() {
            s.bytes().any(|c| c <= b' ' || c == 0x7f || c == b'/')
        } else {
            s.chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '/')
        }
    };
    if s.is_empty() || s.len() > MAX_FLOW_LEN || spaced(s) || classify_segment(s).is_id_like() {
        return None;
    }
    Some(hash(s))
}

/// The values of one JSON body, hashed, in document order, each with whether it names a
/// resource: at most [`MAX_FLOW_VALUES`] (no exchange can take more), the rest counted.
/// Filled by a walk of the body, here or the schema's ([`Taken::string`] for every string,
/// [`Walk`] for what that walk skips).
#[derive(Debug, Default)]
pub(crate) struct Taken {
    h: Vec<(u64, bool)>,
    more: u64,
    done: bool,
}

impl Taken {
    /// A string of the body found under object key `key` (for an array element, the
    /// array's key; `""` at the root).
    pub(crate) fn string(&mut self, key: &str, v: &str) {
        if is_uri(v) {
            self.uri(v);
        } else {
            self.keyed(key_kind_memo(key), v);
        }
    }

    /// A string under a key of kind `key`.
    fn take(&mut self, key: Key, v: &str) {
        if is_uri(v) {
            self.uri(v);
        } else {
            self.keyed(key, v);
        }
    }

    fn keyed(&mut self, key: Key, v: &str) {
        let take = match key {
            Key::Id => true,
            Key::Category => !is_plain_word(v),
            Key::Other => false,
        };
        if take {
            self.push(v, false);
        }
    }

    fn push(&mut self, v: &str, named: bool) {
        if let Some(h) = candidate(v) {
            if self.h.len() < MAX_FLOW_VALUES {
                self.h.push((h, named));
            } else {
                self.more = self.more.saturating_add(1);
            }
        }
    }

    /// The authority and path segments of a URI with a non-HTTP scheme and an authority
    /// (`mxc://example.org/AbCd`, `s3://bucket/key`): names of a resource the API serves by
    /// those parts. HTTP(S) and WebSocket URLs are links into an API, whose paths hold route
    /// words, and are not taken.
    fn uri(&mut self, v: &str) {
        let Some((scheme, rest)) = v.split_once("://") else {
            return;
        };
        let scheme_ok = !scheme.is_empty()
            && scheme.len() <= 16
            && scheme
                .bytes()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'.' | b'-'));
        let web = ["http", "https", "ws", "wss", "ftp", "file"]
            .iter()
            .any(|w| w.eq_ignore_ascii_case(scheme));
        if !scheme_ok || web {
            return;
        }
        let rest = rest.split(['?', '#']).next().unwrap_or("");
        let mut parts = rest.split('/');
        let authority = parts.next().unwrap_or("");
        if authority.is_empty() || authority.contains('@') {
            return;
        }
        self.push(authority, true);
        for seg in parts.filter(|s| !s.is_empty()).take(8) {
            self.push(&crate::endpoint::pct_decode(seg, false), true);
        }
    }

    /// The walk that filled this covered the whole body (else [`ValueFlow`] walks it).
    pub(crate) fn finish(&mut self) {
        self.done = true;
    }

    fn walk(&mut self, b: &[u8]) {
        // streamed: no tree is built, only strings under identifier-like keys and URIs are
        // looked at; a body that does not parse keeps what was taken before the error
        let mut d = serde_json::Deserializer::from_slice(b);
        let _ = Walk {
            taken: Some(self),
            key: Key::Other,
            depth: 0,
        }
        .deserialize(&mut d);
    }
}

/// Might `v` be a URI ([`Taken::uri`] decides): its scheme ends within its first 20 bytes.
/// Asked of every string of a body: looks for a `:` first (most strings have none, and a
/// time of day has no `//` after it), then for `//` after it.
fn is_uri(v: &str) -> bool {
    if v.len() > 4 * MAX_FLOW_LEN {
        return false;
    }
    let head = v.as_bytes().get(..v.len().min(20)).unwrap_or_default();
    let mut from = 0;
    while let Some(p) = head
        .get(from..)
        .and_then(|h| h.iter().position(|&c| c == b':'))
    {
        let colon = from + p;
        if head.get(colon + 1..colon + 3) == Some(b"//") {
            return true;
        }
        from = colon + 1;
    }
    false
}

/// Inserts `h` into a bottom-k set of [`MAX_FLOW`] hashes.
fn insert_bottom_k(set: &mut BTreeSet<u64>, h: u64) {
    if set.len() >= MAX_FLOW && set.last().is_some_and(|l| h >= *l) {
        return;
    }
    set.insert(h);
    while set.len() > MAX_FLOW {
        set.pop_last();
    }
}

/// The path of a URL or origin-form target (`/a/b` of `http://h/a/b?q`); `None` for an
/// absolute URL without a path.
fn url_path(u: &str) -> Option<&str> {
    let path = u.split(['?', '#']).next().unwrap_or("");
    match path.find("://") {
        Some(i) => path
            .get(i + 3..)
            .and_then(|r| r.find('/').and_then(|j| r.get(j..))),
        None => Some(path),
    }
}

/// Are two paths equal once percent-decoded?
fn pct_eq(a: &str, b: &str) -> bool {
    a == b || crate::endpoint::pct_decode(a, false) == crate::endpoint::pct_decode(b, false)
}

/// A streaming walk of one JSON value at `depth` for [`Taken`] (see [`ValueFlow::observe`]);
/// without a `taken` the value is skipped.
pub(crate) struct Walk<'a> {
    taken: Option<&'a mut Taken>,
    key: Key,
    depth: usize,
}

impl<'a> Walk<'a> {
    /// The walk of a value at `depth` under object key `key` (see [`Taken::string`]).
    pub(crate) fn new(taken: Option<&'a mut Taken>, key: &str, depth: usize) -> Self {
        let key = if taken.is_some() {
            key_kind(key)
        } else {
            Key::Other
        };
        Walk { taken, key, depth }
    }
}

/// The remaining elements of an array at `depth` under `key`, walked for `taken`.
pub(crate) fn seq_rest<'de, A: SeqAccess<'de>>(
    taken: Option<&mut Taken>,
    key: &str,
    depth: usize,
    seq: A,
) -> Result<(), A::Error> {
    walk_seq(taken, key_kind(key), depth, seq)
}

/// The elements of an array under a key of kind `key` at `depth`, walked for `taken`
/// (skipped without a `taken` or beyond [`MAX_FLOW_DEPTH`]).
fn walk_seq<'de, A: SeqAccess<'de>>(
    mut taken: Option<&mut Taken>,
    key: Key,
    depth: usize,
    mut seq: A,
) -> Result<(), A::Error> {
    if taken.is_none() || depth >= MAX_FLOW_DEPTH {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        return Ok(());
    }
    while seq
        .next_element_seed(Walk {
            taken: taken.as_deref_mut(),
            key,
            depth: depth + 1,
        })?
        .is_some()
    {}
    Ok(())
}

/// The remaining entries of an object at `depth`, walked for `taken`.
pub(crate) fn map_rest<'de, A: MapAccess<'de>>(
    mut taken: Option<&mut Taken>,
    depth: usize,
    mut map: A,
) -> Result<(), A::Error> {
    if taken.is_none() || depth >= MAX_FLOW_DEPTH {
        while map
            .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
            .is_some()
        {}
        return Ok(());
    }
    while let Some(key) = map.next_key_seed(KeySeed)? {
        map.next_value_seed(Walk {
            taken: taken.as_deref_mut(),
            key,
            depth: depth + 1,
        })?;
    }
    Ok(())
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if self.taken.is_none() {
            return d.deserialize_ignored_any(de::IgnoredAny).map(|_| ());
        }
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        if let Some(t) = self.taken {
            t.take(self.key, v);
        }
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        walk_seq(self.taken, self.key, self.depth, seq)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        map_rest(self.taken, self.depth, map)
    }
}

/// Reads a map key as its [`Key`] kind, without allocating.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Key;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
        Ok(key_kind(v))
    }
}

fn is_json(ct: Option<&str>, b: &[u8]) -> bool {
    let first = b.iter().find(|c| !c.is_ascii_whitespace());
    let json = |c: &str| {
        c.as_bytes()
            .windows(4)
            .any(|w| w.eq_ignore_ascii_case(b"json"))
    };
    ct.is_some_and(json) && matches!(first, Some(b'{' | b'['))
}

/// What a JSON key says about the strings under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    /// Not an identifier.
    Other,
    /// An identifier or name: every string is a value.
    Id,
    /// `type`/`kind`: a plain lowercase word there is a category (`"type": "articles"` names
    /// a collection, a static route), so only qualified names are values (`m.room.message`).
    Category,
}

/// Is `k` an identifier-like key (see the module doc)?
pub fn id_key(k: &str) -> bool {
    key_kind(k) != Key::Other
}

thread_local! {
    /// [`key_kind`] answers by key ([`crate::memo`]: exact key compared, so the answer is
    /// always the function's). It is asked for every string of every inspected JSON body,
    /// by the few keys of a schema over and over; finding the last word and comparing it
    /// with the word lists each time cost more than the memo's hash and compare.
    static KIND_MEMO: crate::memo::KeyMemo<Key> = const { crate::memo::KeyMemo::new(Key::Other) };
}

/// [`key_kind`], remembered for short keys.
fn key_kind_memo(k: &str) -> Key {
    KIND_MEMO.with(|m| m.get(k, key_kind))
}

fn key_kind(k: &str) -> Key {
    if k.len() > 64 {
        return Key::Other;
    }
    let k = k.trim_start_matches(['_', '-', '.']);
    if k.len() >= 2 && k.ends_with("ID") {
        return Key::Id;
    }
    // last word: after the last separator or lower→upper change
    let mut start = 0;
    for (i, w) in k.as_bytes().windows(2).enumerate() {
        let (p, c) = (w.first().copied(), w.get(1).copied());
        if matches!(c, Some(b'_' | b'-' | b'.')) {
            start = i + 2;
        } else if p.is_some_and(|p| p.is_ascii_lowercase())
            && c.is_some_and(|c| c.is_ascii_uppercase())
        {
            start = i + 1;
        }
    }
    // compared without allocating: this runs for every key of every inspected JSON body
    let last = k.get(start..).unwrap_or("");
    const IDS: [&str; 13] = [
        "id", "ids", "name", "names", "key", "tag", "tags", "slug", "alias", "user", "username",
        "login", "handle",
    ];
    if IDS.iter().any(|w| w.eq_ignore_ascii_case(last)) {
        Key::Id
    } else if ["type", "kind"]
        .iter()
        .any(|w| w.eq_ignore_ascii_case(last))
    {
        Key::Category
    } else {
        Key::Other
    }
}

/// SipHash-2-4 of `v` under [`FLOW_KEY`].
pub fn hash(v: &str) -> u64 {
    siphash24(FLOW_KEY, v.as_bytes())
}

/// SipHash-2-4 (Aumasson & Bernstein), 64-bit output, from the `siphasher` crate (the raw
/// bytes are written with no length prefix or terminator, so the output is the paper's).
fn siphash24(key: (u64, u64), data: &[u8]) -> u64 {
    use std::hash::Hasher;
    let mut h = siphasher::sip::SipHasher24::new_with_keys(key.0, key.1);
    h.write(data);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn siphash_reference_vector() {
        // SipHash-2-4 paper, appendix A: key 00..0f, message 00..0e -> a129ca6149be45e5
        let k0 = u64::from_le_bytes([0, 1, 2, 3, 4, 5, 6, 7]);
        let k1 = u64::from_le_bytes([8, 9, 10, 11, 12, 13, 14, 15]);
        let msg: Vec<u8> = (0u8..15).collect();
        assert_eq!(siphash24((k0, k1), &msg), 0xa129_ca61_49be_45e5);
        assert_eq!(siphash24((k0, k1), &[]), 0x726f_db47_dd0e_0e31);
    }

    #[test]
    fn id_keys() {
        for k in [
            "id",
            "name",
            "Name",
            "flow_run_id",
            "ContainerID",
            "tag",
            "type",
            "user",
        ] {
            assert!(id_key(k), "{k}");
        }
        for k in ["note", "value", "description", "idle", "Width", "rename"] {
            assert!(!id_key(k), "{k}");
        }
    }

    #[test]
    fn uri_test_is_the_window_test() {
        let by_window = |v: &str| {
            let head = v.as_bytes().get(..v.len().min(20)).unwrap_or_default();
            v.len() <= 4 * MAX_FLOW_LEN && head.windows(3).any(|w| w == b"://")
        };
        let mut cases: Vec<String> = [
            "",
            ":",
            "://",
            "a://b",
            "mxc://example.org/x",
            "2024-01-01T10:00:00Z",
            "a:/b",
            "a:b//c",
            "::://",
            "abcdefghijklmnopq://x",
            "abcdefghijklmnopqr://x",
            "abcdefghijklmnop:/x",
            "caf\u{e9}://x",
            "s3://bucket/key",
        ]
        .map(String::from)
        .to_vec();
        for i in 0..24 {
            cases.push(format!("{}://{}", "x".repeat(i), "y".repeat(24 - i)));
            cases.push(format!("{}:{}", "x".repeat(i), "/".repeat(3)));
        }
        cases.push(format!("a://{}", "b".repeat(4 * MAX_FLOW_LEN)));
        for v in &cases {
            assert_eq!(is_uri(v), by_window(v), "{v:?}");
        }
    }

    #[test]
    fn candidate_ascii_test_is_the_char_test() {
        let by_char = |s: &str| {
            s.chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '/')
        };
        let mut cases: Vec<String> = (0u8..=0x7f).map(|c| format!("ab{}cd", c as char)).collect();
        cases.extend(["caf\u{e9}", "a\u{a0}b", "a\u{85}b", "a\u{2003}b", "ab"].map(String::from));
        for s in &cases {
            assert_eq!(
                candidate(s).is_none(),
                s.is_empty() || by_char(s) || classify_segment(s).is_id_like(),
                "{s:?}"
            );
        }
    }

    #[test]
    fn kind_memo_answers_as_key_kind() {
        let keys = [
            "id",
            "userId",
            "user_id",
            "name",
            "type",
            "kind",
            "status",
            "ID",
            "",
            "x",
            "a_very_long_key_name_beyond_the_memo_limit_id",
            "Name",
            "owner.login",
        ];
        // twice over, and with colliding slots evicting each other in between
        for _ in 0..2 {
            for k in keys {
                assert_eq!(key_kind_memo(k), key_kind(k), "{k}");
            }
            for i in 0..200 {
                let k = format!("k{i}");
                assert_eq!(key_kind_memo(&k), key_kind(&k));
            }
        }
        assert_eq!(key_kind_memo("userId"), Key::Id);
        assert_eq!(key_kind_memo("type"), Key::Category);
        assert_eq!(key_kind_memo("status"), Key::Other);
    }

    #[test]
    fn bottom_k_is_a_join() {
        let mut a = ValueFlow::default();
        let mut b = ValueFlow::default();
        let mut whole = ValueFlow::default();
        for i in 0..3000 {
            let v = format!("name-{i}x");
            let mut budget = 1;
            whole.value(&v, &mut budget);
            let mut budget = 1;
            if i % 3 == 0 {
                a.value(&v, &mut budget);
            } else {
                b.value(&v, &mut budget);
            }
        }
        let mut ab = a.clone();
        ab.combine(&b, Mode::Sum);
        let mut ba = b.clone();
        ba.combine(&a, Mode::Sum);
        assert_eq!(ab.h, whole.h);
        assert_eq!(ba.h, whole.h);
        let mut aa = ab.clone();
        aa.combine(&ab, Mode::Join);
        assert_eq!(aa, ab);
        assert_eq!(whole.h.len(), MAX_FLOW);
    }
}
