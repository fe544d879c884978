//! A progress bar on stderr for long capture files (only when stderr is a terminal).

use indicatif::{ProgressBar, ProgressStyle};

/// A bar for reading `path`, sized in bytes when the size is known, else a spinner.
pub fn bar(path: &str, size: Option<u64>) -> ProgressBar {
    let bar = match size {
        Some(n) => ProgressBar::new(n).with_style(
            ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        ),
        None => ProgressBar::new_spinner(),
    };
    bar.set_message(path.to_string());
    bar
}
