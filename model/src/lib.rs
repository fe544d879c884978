//! The apitap API model: endpoints with path templates, schemas inferred from observed
//! traffic, OpenAPI 3.1 export, merge and diff. Pure: no I/O, no async.
//!
//! - [`observation`]: the input type.
//! - [`paths`]: path templating (trie, collapse policy, parameter naming).
//! - [`compact`]: trie compaction when a flood of paths exhausts a service's node budget.
//! - [`schema`]: schema inference and JSON Schema export.
//! - `sound` (private): the reader of a JSON body that `schema`'s check accepted (a serde
//!   `Deserializer` making serde_json's visitor calls without checking the bytes again).
//! - [`props`]: an object position's properties (a sorted vector with a hash index).
//! - [`endpoint`]: per-endpoint evidence (parameters, bodies, statuses, latency).
//! - [`model`]: [`ApiModel`], learning, merge semantics, native JSON.
//! - [`openapi`]: OpenAPI 3.1 export (JSON/YAML).
//! - [`mod@diff`]: breaking-change diff between two OpenAPI documents.
//! - [`redact`]: secret-like keys and synthesised examples.
//! - [`rules`]: a reviewed templates file applied to learned evidence (the collector).
//! - [`pii`]: sensitive-data shapes (the inventory, PII path segments).
//! - [`protobuf`]: protobuf wire decoding and message schema inference (no `.proto`).
//! - [`grpc`]: gRPC evidence per operation; [`ApiModel::to_proto`] writes a `.proto`.
//! - [`descriptors`]: field names from a `protoc --descriptor_set_out` file.
//! - [`valueflow`]: values the API hands out, as keyed hashes (evidence for templating).
//!
//! Usage: `ApiModel::new()`, [`ApiModel::observe`] each [`Observation`] with a
//! [`LearnConfig`], [`ApiModel::merge`] models from other learners, then
//! [`ApiModel::to_openapi`] / [`ApiModel::to_yaml`], [`ApiModel::to_json`] /
//! [`ApiModel::from_json`] for the native model, [`ApiModel::endpoints`] for a summary table
//! and [`diff()`] for breaking-change reports.
//!
//! Privacy: the model stores types, formats and counts, not values. The only observed text
//! it keeps is (1) literal path segments (at most 64 per trie node, identifier-like segments
//! are never stored) because templating needs them, (2) enum candidates: letter-only tokens
//! (`active`, `EUR`) seen at least 5 times at one schema position under a key that names a
//! category (see [`schema`]), and (3) nothing else: examples (with [`LearnConfig::examples`])
//! are synthesised from type and format ([`redact::example_for`]), and PII-shaped values are
//! only counted by class ([`pii`]). Values the API hands out (names under identifier-like
//! keys, `Location`, `ETag`) are kept only as a bounded sample of keyed 64-bit hashes, never
//! as text, and never exported ([`valueflow`] states what a holder of a model can learn).
//!
//! `learn(A ∪ B)` equals `merge(learn(A), learn(B))` (with distinct source ids) for
//! templates, schemas and counts (templates are decided at derive time from the merged
//! evidence, see [`paths`]), with two documented exceptions: an enum value's text is stored
//! once one learner has seen it 5 times; and at observe time a full capped map drops new keys
//! while a merge keeps the smallest keys of the union.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod classify;
pub mod compact;
pub mod descriptors;
pub mod diff;
pub mod endpoint;
pub mod evidence;
pub mod fold;
pub mod grpc;
pub mod har;
mod memo;
pub mod model;
pub mod multiseg;
pub mod observation;
pub mod openapi;
pub mod paths;
pub mod pii;
pub mod props;
pub mod proto;
pub mod protobuf;
pub mod redact;
pub mod rules;
pub mod schema;
mod sound;
pub mod valueflow;

pub use diff::{diff, Change, Diff};
pub use endpoint::Inspect;
pub use model::{ApiModel, EndpointSummary, LearnConfig, ModelError, Stats, MODEL_VERSION};
pub use observation::{service_name, GrpcCall, Headers, Observation};
pub use openapi::{ExportOptions, DEFAULT_MAX_OPERATIONS};
