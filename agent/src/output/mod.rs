//! Stage 6 — output: exchanges printed as JSON lines or HAR 1.2, in capture order of the
//! request.
