//! The apitap API model: endpoints with path templates, schemas inferred from observed
//! traffic, OpenAPI 3.1 export, merge and diff. Pure: no I/O, no async.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
