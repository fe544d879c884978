//! The `apitap` command line.
#![forbid(unsafe_code)]

fn main() {
    println!("apitap");
}
