//! Wires the stages together: capture → decode → flow/reassembly → http → a sink.
