//! The apitap API model: endpoints with path templates, schemas inferred from observed
//! traffic, OpenAPI 3.1 export, merge and diff. Pure: no I/O, no async.
//!
//! - [`observation`]: the input type.
//! - [`paths`]: path templating (trie, collapse policy, parameter naming).
//! - [`schema`]: schema inference and JSON Schema export.
//! - [`endpoint`]: per-endpoint evidence (parameters, bodies, statuses, latency).
//! - [`model`]: [`ApiModel`], learning, merge semantics, native JSON.
//! - [`openapi`]: OpenAPI 3.1 export (JSON/YAML).
//! - [`diff`]: breaking-change diff between two OpenAPI documents.
//! - [`redact`]: example redaction.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod classify;
pub mod diff;
pub mod endpoint;
pub mod evidence;
pub mod model;
pub mod observation;
pub mod openapi;
pub mod paths;
pub mod redact;
pub mod schema;

pub use diff::{diff, Change, Diff};
pub use model::{ApiModel, EndpointSummary, LearnConfig, ModelError, Stats, MODEL_VERSION};
pub use observation::Observation;
pub use openapi::ExportOptions;
