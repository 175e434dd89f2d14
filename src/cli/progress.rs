//! Progress of long commands on stderr: a bar redrawn in place when stderr is a terminal; plain lines, at most one
//! every few seconds and never a carriage return, when it goes to a pipe or a log.

use std::{
    io::IsTerminal,
    time::{Duration, Instant},
};

use indicatif::{ProgressBar, ProgressStyle};

/// The least time between two plain progress lines.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

pub struct Progress {
    what: String,
    total: u64,
    done: u64,
    bar: Option<ProgressBar>,
    last_line: Instant,
}

impl Progress {
    /// Progress towards `total` steps of `what` ("generating disclosures").
    pub fn new(what: &str, total: usize) -> Progress {
        Progress::drawn(what, total, std::io::stderr().is_terminal())
    }

    fn drawn(what: &str, total: usize, terminal: bool) -> Progress {
        let bar = terminal.then(|| {
            let bar = ProgressBar::new(total as u64);
            if let Ok(style) =
                ProgressStyle::with_template("{bar:40} {pos}/{len} {elapsed} {wide_msg}")
            {
                bar.set_style(style);
            }
            bar.set_message(what.to_owned());
            bar
        });
        Progress {
            what: what.to_owned(),
            total: total as u64,
            done: 0,
            bar,
            last_line: Instant::now(),
        }
    }

    /// Names what is worked on now (a file), on the bar only.
    pub fn set_message(&self, message: String) {
        if let Some(bar) = &self.bar {
            bar.set_message(message);
        }
    }

    /// One more step done.
    pub fn inc(&mut self) {
        self.set(self.done + 1);
    }

    /// `done` steps done.
    pub fn set(&mut self, done: u64) {
        self.done = done;
        match &self.bar {
            Some(bar) => bar.set_position(done),
            None if self.last_line.elapsed() >= PLAIN_EVERY && done < self.total => {
                self.last_line = Instant::now();
                eprintln!("{}", self.line());
            }
            None => {}
        }
    }

    /// Clears the bar; in plain output, says where it ended (once).
    pub fn finish(self) {
        match &self.bar {
            Some(bar) => bar.finish_and_clear(),
            None => eprintln!("{}", self.line()),
        }
    }

    fn line(&self) -> String {
        format!(
            "{}: {}/{}",
            self.what,
            super::output::thousands(self.done as usize),
            super::output::thousands(self.total as usize)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_progress_says_where_it_is_in_whole_lines() {
        let mut progress = Progress::drawn("loading", 2_000, false);
        assert!(progress.bar.is_none());
        progress.set(1_500);
        assert_eq!(progress.line(), "loading: 1,500/2,000");
        assert!(!progress.line().contains('\r'));
    }

    #[test]
    fn a_terminal_gets_a_bar() {
        let progress = Progress::drawn("loading", 10, true);
        assert!(progress.bar.is_some());
        progress.finish();
    }
}
