// SPDX-License-Identifier: MIT
//! Running commands: plainly, captured, or into a log with progress lines
//! and the log's tail on failure.

use std::ffi::OsStr;
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::ctx::{Context, Error, Result};

/// A command to run.
pub struct Cmd {
    inner: Command,
    shown: String,
}

/// Starts a command.
pub fn cmd(prog: impl AsRef<OsStr>) -> Cmd {
    let shown = prog.as_ref().to_string_lossy().into_owned();
    Cmd {
        inner: Command::new(prog),
        shown,
    }
}

/// The last `n` lines of a file.
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

impl Cmd {
    /// Adds an argument.
    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Self {
        self.shown.push(' ');
        self.shown.push_str(&a.as_ref().to_string_lossy());
        self.inner.arg(a);
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        for a in args {
            self = self.arg(a);
        }
        self
    }

    /// Sets an environment variable.
    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Self {
        self.inner.env(k, v);
        self
    }

    /// Removes an environment variable from the command's environment.
    pub fn env_remove(mut self, k: impl AsRef<OsStr>) -> Self {
        self.inner.env_remove(k);
        self
    }

    /// Sets the working directory.
    pub fn dir(mut self, d: impl AsRef<Path>) -> Self {
        self.inner.current_dir(d);
        self
    }

    /// Runs with inherited stdio; fails on a non-zero exit.
    pub fn run(mut self) -> Result<()> {
        let st = self
            .inner
            .status()
            .ctx(format!("cannot run `{}`", self.shown))?;
        if !st.success() {
            return Err(Error(format!("`{}` failed ({st})", self.shown)));
        }
        Ok(())
    }

    /// Runs and returns whether it succeeded, stdio inherited.
    #[allow(dead_code)] // for the test-bed steps
    pub fn status(mut self) -> Result<bool> {
        Ok(self
            .inner
            .status()
            .ctx(format!("cannot run `{}`", self.shown))?
            .success())
    }

    /// Runs and returns stdout; fails (with stderr) on a non-zero exit.
    pub fn read(mut self) -> Result<String> {
        let o = self
            .inner
            .output()
            .ctx(format!("cannot run `{}`", self.shown))?;
        if !o.status.success() {
            return Err(Error(format!(
                "`{}` failed ({}): {}",
                self.shown,
                o.status,
                String::from_utf8_lossy(&o.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    }

    /// Runs and returns stdout as bytes; fails on a non-zero exit.
    pub fn read_bytes(mut self) -> Result<Vec<u8>> {
        let o = self
            .inner
            .output()
            .ctx(format!("cannot run `{}`", self.shown))?;
        if !o.status.success() {
            return Err(Error(format!("`{}` failed ({})", self.shown, o.status)));
        }
        Ok(o.stdout)
    }

    /// Runs with stdout and stderr appended to `log`, printing a progress
    /// line every 30 s; on failure the error carries the log's last 40 lines.
    pub fn run_logged(mut self, log: &Path, what: &str) -> Result<()> {
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .ctx(format!("opening {}", log.display()))?;
        use std::io::Write;
        let mut header = f.try_clone()?;
        let _ = writeln!(header, "\n$ {}", self.shown);
        let mut child = self
            .inner
            .stdin(Stdio::null())
            .stdout(f.try_clone()?)
            .stderr(f)
            .spawn()
            .ctx(format!("cannot run `{}`", self.shown))?;
        let start = Instant::now();
        let mut next = Duration::from_secs(30);
        let st = loop {
            if let Some(st) = child.try_wait()? {
                break st;
            }
            std::thread::sleep(Duration::from_millis(250));
            if start.elapsed() >= next {
                next += Duration::from_secs(30);
                let last = tail(log, 1);
                let last: String = last.chars().take(100).collect();
                println!("    ... {what}: {}s: {last}", start.elapsed().as_secs());
            }
        };
        if !st.success() {
            return Err(Error(format!(
                "{what}: `{}` failed ({st}); last lines of {}:\n{}",
                self.shown,
                log.display(),
                tail(log, 40)
            )));
        }
        Ok(())
    }

    /// Runs, streaming each output line (stdout and stderr) through `f`.
    #[allow(dead_code)] // for the test-bed steps
    pub fn stream(mut self, mut f: impl FnMut(&str)) -> Result<bool> {
        let mut child = self
            .inner
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .ctx(format!("cannot run `{}`", self.shown))?;
        let err = child.stderr.take().expect("piped");
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let tx2 = tx.clone();
        let h = std::thread::spawn(move || {
            for l in BufReader::new(err)
                .lines()
                .map_while(std::result::Result::ok)
            {
                let _ = tx2.send(l);
            }
        });
        let out = child.stdout.take().expect("piped");
        let h2 = std::thread::spawn(move || {
            for l in BufReader::new(out)
                .lines()
                .map_while(std::result::Result::ok)
            {
                let _ = tx.send(l);
            }
        });
        for l in rx {
            f(&l);
        }
        let _ = h.join();
        let _ = h2.join();
        Ok(child.wait()?.success())
    }
}
