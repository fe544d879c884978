//! The properties of an object schema position: a map from name to [`SchemaNode`], kept as
//! a vector sorted by name, with a hash index for the walks' lookups.
//!
//! Policy:
//! - **What it holds** is a `BTreeMap<String, SchemaNode>`'s content: one entry per name,
//!   in name order. It serialises as that map would, and deserialises through one (a
//!   repeated name: the last one wins), so the native model's JSON is unchanged.
//! - **Why not a `BTreeMap`**: every member of every inspected JSON object is looked up
//!   here, and the B-tree's lookups (a string comparison per key passed, ~220 instructions
//!   a member) were a tenth of `apitap learn`'s instructions on the bench capture.
//!   [`Props::find`] hashes the name once and compares it with one entry, almost always.
//! - **The index** is open addressing over the entries (at least twice as many slots as
//!   entries, so a probe always ends), dropped by every change of the entries and rebuilt
//!   by the next [`Props::find`]. Its hash is fixed, not keyed: names come from captured
//!   bodies, but a position holds at most the schema's property cap of them (128), so
//!   names made to collide cost at most a scan of that many entries. It is not part of the
//!   value: equality, serialisation and clones ignore it. Beyond [`MAX_INDEXED`] entries
//!   (a deserialised model only) lookups binary-search.
//! - Inserting keeps the vector sorted; the number of entries is capped by the schema's
//!   property cap, so the shift is bounded.

use crate::evidence::{Combine, Mode};
use crate::schema::SchemaNode;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;

/// Entries the hash index covers (more only in a deserialised model: binary search).
pub const MAX_INDEXED: usize = 16_384;

/// Object properties by name (see the module doc).
#[derive(Default)]
pub struct Props {
    /// Sorted by name, names unique.
    entries: Vec<(String, SchemaNode)>,
    /// Open-addressing slots: entry index + 1, or 0 for an empty slot; a power of two at
    /// least twice the entries, or empty when stale (see the module doc).
    index: Vec<u16>,
}

/// Bytes `i..i + 8` of `b` as a little-endian word (0 past the end).
#[inline]
fn word(b: &[u8], i: usize) -> u64 {
    b.get(i..i + 8)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

/// A name of fewer than 8 bytes as a word, from two overlapping loads (4 + 4, 2 + 2 or 1
/// byte): names of one length map to distinct words, and no copy call is made.
#[inline]
fn short_word(b: &[u8]) -> u64 {
    let n = b.len();
    if n >= 4 {
        let lo = b
            .get(..4)
            .and_then(|s| s.try_into().ok())
            .map_or(0, u32::from_le_bytes);
        let hi = b
            .get(n - 4..)
            .and_then(|s| s.try_into().ok())
            .map_or(0, u32::from_le_bytes);
        u64::from(lo) | u64::from(hi) << 32
    } else if n >= 2 {
        let lo = b
            .get(..2)
            .and_then(|s| s.try_into().ok())
            .map_or(0, u16::from_le_bytes);
        let hi = b
            .get(n - 2..)
            .and_then(|s| s.try_into().ok())
            .map_or(0, u16::from_le_bytes);
        u64::from(lo) | u64::from(hi) << 16
    } else {
        b.first().map_or(0, |&c| u64::from(c))
    }
}

/// The index's hash of a name: its length, then whole words, the last word overlapping
/// the one before it (multiply and fold).
#[inline]
pub(crate) fn name_hash(b: &[u8]) -> usize {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mix = |h: u64, w: u64| {
        let h = (h ^ w).wrapping_mul(K);
        h ^ (h >> 29)
    };
    let mut h = (b.len() as u64).wrapping_mul(K);
    if b.len() < 8 {
        h = mix(h, short_word(b));
    } else {
        let mut i = 0;
        while i + 8 < b.len() {
            h = mix(h, word(b, i));
            i += 8;
        }
        h = mix(h, word(b, b.len() - 8));
    }
    (h ^ (h >> 32)) as usize
}

/// `a == b`, word by word, inline (names are short: a call to `memcmp` cost more than the
/// comparison).
#[inline]
pub(crate) fn same_name(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    if a.len() < 8 {
        return short_word(a) == short_word(b);
    }
    let mut i = 0;
    while i + 8 < a.len() {
        if word(a, i) != word(b, i) {
            return false;
        }
        i += 8;
    }
    word(a, a.len() - 8) == word(b, b.len() - 8)
}

impl Props {
    /// Number of properties.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No properties.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn search(&self, name: &str) -> Result<usize, usize> {
        self.entries.binary_search_by(|(k, _)| k.as_str().cmp(name))
    }

    /// The property `name`.
    pub fn get(&self, name: &str) -> Option<&SchemaNode> {
        let i = self.search(name).ok()?;
        self.entries.get(i).map(|(_, v)| v)
    }

    /// The property `name`, mutably, found by the hash index (rebuilt here if stale).
    #[inline]
    pub fn get_mut(&mut self, name: &str) -> Option<&mut SchemaNode> {
        let i = self.find(name)?;
        self.entries.get_mut(i).map(|(_, v)| v)
    }

    /// The property `name`, inserted as a default node if absent and there are fewer than
    /// `cap` properties; `None` if absent and there is no room.
    #[inline]
    pub fn get_or_insert(&mut self, name: &str, cap: usize) -> Option<&mut SchemaNode> {
        let i = match self.find(name) {
            Some(i) => i,
            None => self.insert_default(name, cap)?,
        };
        self.entries.get_mut(i).map(|(_, v)| v)
    }

    /// [`Props::get_or_insert`]'s insertion (rare: kept out of the lookup's code).
    #[cold]
    fn insert_default(&mut self, name: &str, cap: usize) -> Option<usize> {
        if self.entries.len() >= cap {
            return None;
        }
        let i = self.search(name).err()?;
        self.entries
            .insert(i, (name.to_owned(), SchemaNode::default()));
        self.index.clear();
        Some(i)
    }

    /// Is there a property `name`?
    pub fn contains_key(&self, name: &str) -> bool {
        self.search(name).is_ok()
    }

    /// The index of property `name`, by the hash index (rebuilt here if stale). Inlined
    /// into its two callers: as a call, its prologue and epilogue were a third of a
    /// lookup's instructions.
    #[inline]
    fn find(&mut self, name: &str) -> Option<usize> {
        if self.entries.len() > MAX_INDEXED {
            return self.search(name).ok();
        }
        if self.index.is_empty() {
            if self.entries.is_empty() {
                return None;
            }
            self.rebuild();
        }
        let mask = self.index.len() - 1;
        let mut s = name_hash(name.as_bytes()) & mask;
        // at least half the slots are empty, so the probe ends
        loop {
            let e = usize::from(*self.index.get(s)?);
            let i = e.checked_sub(1)?;
            if self
                .entries
                .get(i)
                .is_some_and(|(k, _)| same_name(k.as_bytes(), name.as_bytes()))
            {
                return Some(i);
            }
            s = (s + 1) & mask;
        }
    }

    #[cold]
    fn rebuild(&mut self) {
        let slots = (self.entries.len() * 2).next_power_of_two().max(8);
        self.index.clear();
        self.index.resize(slots, 0);
        let mask = slots - 1;
        for (i, (k, _)) in self.entries.iter().enumerate() {
            let Ok(e) = u16::try_from(i + 1) else { break };
            let mut s = name_hash(k.as_bytes()) & mask;
            while let Some(slot) = self.index.get_mut(s) {
                if *slot == 0 {
                    *slot = e;
                    break;
                }
                s = (s + 1) & mask;
            }
        }
    }

    /// Inserts (or replaces) property `name`.
    pub fn insert(&mut self, name: String, node: SchemaNode) {
        match self.search(&name) {
            Ok(i) => {
                if let Some(e) = self.entries.get_mut(i) {
                    e.1 = node;
                }
            }
            Err(i) => {
                self.entries.insert(i, (name, node));
                self.index.clear();
            }
        }
    }

    /// Removes property `name`, giving its node.
    pub fn remove(&mut self, name: &str) -> Option<SchemaNode> {
        let i = self.search(name).ok()?;
        self.index.clear();
        Some(self.entries.remove(i).1)
    }

    /// Removes the last property by name order.
    pub fn pop_last(&mut self) -> Option<(String, SchemaNode)> {
        self.index.clear();
        self.entries.pop()
    }

    /// Combines `o` into these properties as [`crate::evidence::combine_map`] combines two
    /// maps: each of `o`'s properties combined into the same name here or inserted, then
    /// the last names by order dropped while there are more than `cap`. Returns true when
    /// the cap cut names.
    pub fn combine(&mut self, o: &Props, mode: Mode, cap: usize) -> bool {
        for (k, v) in o {
            match self.search(k) {
                Ok(i) => {
                    if let Some(e) = self.entries.get_mut(i) {
                        e.1.combine(v, mode);
                    }
                }
                Err(i) => {
                    self.entries.insert(i, (k.clone(), v.clone()));
                    self.index.clear();
                }
            }
        }
        let cut = self.entries.len() > cap;
        if cut {
            self.entries.truncate(cap);
            self.index.clear();
        }
        cut
    }

    /// Properties in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &SchemaNode)> + '_ {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// Names in order.
    pub fn keys(&self) -> impl Iterator<Item = &String> + '_ {
        self.entries.iter().map(|(k, _)| k)
    }

    /// Nodes in name order.
    pub fn values(&self) -> impl Iterator<Item = &SchemaNode> + '_ {
        self.entries.iter().map(|(_, v)| v)
    }
}

impl Clone for Props {
    fn clone(&self) -> Self {
        Props {
            entries: self.entries.clone(),
            index: Vec::new(),
        }
    }
}

impl PartialEq for Props {
    fn eq(&self, o: &Self) -> bool {
        self.entries == o.entries
    }
}

impl std::fmt::Debug for Props {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for &'a Props {
    type Item = (&'a String, &'a SchemaNode);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (String, SchemaNode)>,
        fn(&'a (String, SchemaNode)) -> (&'a String, &'a SchemaNode),
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(|(k, v)| (k, v))
    }
}

/// Tests only: panics if there is no such property.
#[cfg(test)]
impl std::ops::Index<&str> for Props {
    type Output = SchemaNode;
    fn index(&self, name: &str) -> &SchemaNode {
        self.get(name)
            .unwrap_or_else(|| panic!("no property {name:?}"))
    }
}

impl From<BTreeMap<String, SchemaNode>> for Props {
    fn from(m: BTreeMap<String, SchemaNode>) -> Self {
        Props {
            entries: m.into_iter().collect(),
            index: Vec::new(),
        }
    }
}

impl Serialize for Props {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for Props {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        BTreeMap::<String, SchemaNode>::deserialize(d).map(Props::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(n: u64) -> SchemaNode {
        SchemaNode {
            n,
            ..Default::default()
        }
    }

    #[test]
    fn behaves_as_a_sorted_map() {
        let mut p = Props::default();
        let mut m = BTreeMap::new();
        for (i, k) in ["m", "b", "z", "a", "b", "q"].iter().enumerate() {
            p.insert((*k).to_string(), node(i as u64));
            m.insert((*k).to_string(), node(i as u64));
        }
        assert_eq!(p, Props::from(m.clone()));
        assert_eq!(p.len(), 5);
        assert!(p.keys().eq(m.keys()));
        assert_eq!(p.get("b").map(|n| n.n), Some(4));
        assert!(p.get("c").is_none() && !p.contains_key("c"));
        let json = serde_json::to_string(&p).unwrap_or_default();
        assert_eq!(json, serde_json::to_string(&m).unwrap_or_default());
        let back: Props = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(back, p);
        // a repeated name in the input: the last wins, as with a BTreeMap
        let j = |n| serde_json::to_string(&node(n)).unwrap_or_default();
        let dup = format!(r#"{{"b":{},"a":{},"b":{}}}"#, j(1), j(2), j(3));
        let dup: Props = serde_json::from_str(&dup).unwrap_or_default();
        assert_eq!(dup.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(dup["b"].n, 3);
        assert_eq!(p.pop_last().map(|(k, _)| k), Some("z".to_string()));
        if let Some(c) = p.get_or_insert("c", usize::MAX) {
            c.n = 9;
        }
        assert!(p.get_or_insert("d", p.len()).is_none(), "no room");
        assert_eq!(
            p.get_or_insert("c", 0).map(|c| c.n),
            Some(9),
            "found, no room needed"
        );
        assert_eq!(p.keys().collect::<Vec<_>>(), ["a", "b", "c", "m", "q"]);
    }

    #[test]
    fn word_compare_is_byte_compare() {
        let names: Vec<Vec<u8>> = (0..=20)
            .flat_map(|n| {
                let base: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
                let mut v = vec![base.clone()];
                // one byte changed at each place
                for j in 0..n {
                    let mut x = base.clone();
                    x[j] ^= 0x20;
                    v.push(x);
                }
                v
            })
            .collect();
        for a in &names {
            for b in &names {
                assert_eq!(same_name(a, b), a == b, "{a:?} {b:?}");
                if a == b {
                    assert_eq!(name_hash(a), name_hash(b));
                }
            }
        }
    }

    #[test]
    fn find_follows_every_change() {
        let mut p = Props::default();
        assert_eq!(p.find("a"), None);
        let names: Vec<String> = (0..128)
            .map(|i| format!("member_{}", i * 7919 % 1000))
            .collect();
        for (n, k) in names.iter().enumerate() {
            p.insert(k.clone(), node(n as u64));
            // every name so far found, at its node; an absent one not
            for (m, k) in names.iter().take(n + 1).enumerate() {
                assert_eq!(p.get_mut(k).map(|x| x.n), Some(m as u64));
            }
            assert_eq!(p.find("member_x"), None);
        }
        assert_eq!(p.remove("member_0").map(|x| x.n), Some(0));
        assert_eq!(p.find("member_0"), None);
        let last = p.keys().last().cloned().unwrap_or_default();
        p.pop_last();
        assert_eq!(p.find(&last), None);
        let mut q = Props::default();
        q.insert("zz".into(), node(1));
        let n = p.len();
        assert!(!p.combine(&q, Mode::Sum, MAX_INDEXED), "nothing cut");
        assert!(p.find("zz").is_some() && p.len() == n + 1);
        // the cap cuts the last names: "zz" goes, the index with it
        assert!(p.combine(&q, Mode::Sum, n));
        assert_eq!(p.find("zz"), None);
        // names that share a prefix, a length, or nothing at all
        let mut r = Props::default();
        for k in ["", "a", "aaaaaaaa", "aaaaaaaab", "aaaaaaaaa", "b\u{e9}"] {
            if let Some(x) = r.get_or_insert(k, usize::MAX) {
                x.n = k.len() as u64;
            }
        }
        for k in ["", "a", "aaaaaaaa", "aaaaaaaab", "aaaaaaaaa", "b\u{e9}"] {
            assert_eq!(r.get_mut(k).map(|x| x.n), Some(k.len() as u64), "{k:?}");
        }
        // clones and equality ignore the index
        let c = r.clone();
        assert!(c.index.is_empty() && c == r && !r.index.is_empty());
    }
}
