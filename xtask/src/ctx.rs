// SPDX-License-Identifier: MIT
//! Run context: where things live, the cache, steps and their timings.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// An error of a step, with what was being done.
#[derive(Debug)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error(e.to_string())
    }
}

/// Result of the xtask.
pub type Result<T> = std::result::Result<T, Error>;

/// Builds an [`Error`] from a format string.
#[macro_export]
macro_rules! bail {
    ($($t:tt)*) => { return Err($crate::ctx::Error(format!($($t)*))) };
}

/// Adds context to errors.
pub trait Context<T> {
    /// Prefixes the error with `what`.
    fn ctx(self, what: impl fmt::Display) -> Result<T>;
}

impl<T, E: fmt::Display> Context<T> for std::result::Result<T, E> {
    fn ctx(self, what: impl fmt::Display) -> Result<T> {
        self.map_err(|e| Error(format!("{what}: {e}")))
    }
}

struct StepRecord {
    name: String,
    took: Duration,
    note: String,
}

/// Where the workspace and the cache are, and the steps run so far.
pub struct Ctx {
    /// Workspace root.
    pub root: PathBuf,
    /// The one cache directory (`target/testbed`, or `$XDM_CACHE`).
    pub cache: PathBuf,
    steps: Mutex<Vec<StepRecord>>,
    started: Instant,
}

impl Ctx {
    /// The context of this workspace.
    pub fn new() -> Result<Self> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("xtask lives in the workspace")
            .to_path_buf();
        let cache = std::env::var_os("XDM_CACHE")
            .map_or_else(|| root.join("target/testbed"), PathBuf::from);
        std::fs::create_dir_all(cache.join("logs"))
            .ctx(format!("creating the cache {}", cache.display()))?;
        Ok(Self {
            root,
            cache,
            steps: Mutex::new(Vec::new()),
            started: Instant::now(),
        })
    }

    /// Path of a log file in the cache.
    pub fn log(&self, name: &str) -> PathBuf {
        self.cache.join("logs").join(name)
    }

    /// Runs one named step, printing its start and recording its time.
    /// `f` returns a note for the summary ("cached", "built", ...).
    pub fn step(&self, name: &str, f: impl FnOnce() -> Result<String>) -> Result<()> {
        println!("==> {name}");
        let t = Instant::now();
        let r = f();
        let took = t.elapsed();
        let note = match &r {
            Ok(n) => n.clone(),
            Err(_) => "FAILED".to_string(),
        };
        if let Ok(n) = &r {
            println!("    {name}: {n} ({:.1}s)", took.as_secs_f64());
        }
        self.steps
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(StepRecord {
                name: name.to_string(),
                took,
                note,
            });
        r.map(|_| ())
            .map_err(|e| Error(format!("step `{name}` failed: {e}")))
    }

    /// Prints the time spent per step.
    pub fn summary(&self) {
        let steps = self.steps.lock().unwrap_or_else(|e| e.into_inner());
        if steps.is_empty() {
            return;
        }
        println!("\ntime per step:");
        let w = steps.iter().map(|s| s.name.len()).max().unwrap_or(0);
        for s in steps.iter() {
            println!(
                "  {:w$}  {:>7.1}s  {}",
                s.name,
                s.took.as_secs_f64(),
                s.note
            );
        }
        println!(
            "  {:w$}  {:>7.1}s",
            "total",
            self.started.elapsed().as_secs_f64()
        );
    }

    /// Builds `dir` with `build` unless it was built from the same inputs
    /// (`key`). The build works in `dir`, emptied first; the key is written
    /// only when it succeeds, so an interrupted build is redone.
    ///
    /// A `dir` named after its key has siblings from other inputs (an older
    /// source, another checkout sharing `$XDM_CACHE`). Once it is built,
    /// the newest of them is kept and older ones are removed, so a step
    /// holds at most two builds; a removal that fails only warns.
    pub fn cached(
        &self,
        dir: &Path,
        key: &str,
        build: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<bool> {
        let stamp = dir.join(".xtask-key");
        if std::fs::read_to_string(&stamp).ok().as_deref() == Some(key) {
            return Ok(false);
        }
        if dir.exists() {
            std::fs::remove_dir_all(dir).ctx(format!("clearing {}", dir.display()))?;
        }
        std::fs::create_dir_all(dir)?;
        build(dir)?;
        std::fs::write(&stamp, key)?;
        if let Some(parent) = dir
            .parent()
            .filter(|_| dir.file_name().is_some_and(|n| n == key))
        {
            prune_siblings(parent, key);
        }
        Ok(true)
    }
}

/// Removes the keyed, stamped builds in `parent` other than `key` and the
/// newest of the others.
fn prune_siblings(parent: &Path, key: &str) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    let mut others: Vec<(std::time::SystemTime, PathBuf)> = entries
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name != key && is_key(&name)
        })
        .filter_map(|e| {
            Some((
                std::fs::metadata(e.path().join(".xtask-key"))
                    .ok()?
                    .modified()
                    .ok()?,
                e.path(),
            ))
        })
        .collect();
    others.sort();
    others.pop();
    for (_, p) in others {
        if let Err(e) = std::fs::remove_dir_all(&p) {
            println!(
                "    warning: could not remove the stale build {}: {e}",
                p.display()
            );
        }
    }
}
/// Whether `s` has the form of a [`Key`] (24 lowercase hex digits).
fn is_key(s: &str) -> bool {
    s.len() == 24
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A hash of a step's inputs.
#[derive(Default)]
pub struct Key(Sha256);

impl Key {
    /// A new, empty key.
    pub fn new(what: &str) -> Self {
        let mut k = Key(Sha256::new());
        k.0.update(what.as_bytes());
        k
    }

    /// Adds a string.
    pub fn str(mut self, s: &str) -> Self {
        self.0.update((s.len() as u64).to_le_bytes());
        self.0.update(s.as_bytes());
        self
    }

    /// Adds a file's content.
    #[allow(dead_code)] // for the test-bed steps
    pub fn file(self, p: &Path) -> Result<Self> {
        let data = std::fs::read(p).ctx(format!("reading {}", p.display()))?;
        let mut k = self.str(&p.file_name().unwrap_or_default().to_string_lossy());
        k.0.update((data.len() as u64).to_le_bytes());
        k.0.update(&data);
        Ok(k)
    }

    /// Adds every file under a directory (sorted, by relative path).
    #[allow(dead_code)] // for the test-bed steps
    pub fn dir(mut self, d: &Path) -> Result<Self> {
        let mut files = Vec::new();
        walk(d, &mut files)?;
        files.sort();
        for f in files {
            let rel = f
                .strip_prefix(d)
                .unwrap_or(&f)
                .to_string_lossy()
                .into_owned();
            self = self.str(&rel).file(&f)?;
        }
        Ok(self)
    }

    /// The hex digest (shortened).
    pub fn finish(self) -> String {
        let h = self.0.finalize();
        h.iter().take(12).map(|b| format!("{b:02x}")).collect()
    }
}

#[allow(dead_code)] // for the test-bed steps
fn walk(d: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for e in std::fs::read_dir(d).ctx(format!("reading {}", d.display()))? {
        let e = e?;
        let p = e.path();
        // Follows symlinks (the module's link to dmop-abi's sources).
        if p.is_dir() {
            walk(&p, out)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
}

/// Runs `lanes` side by side, each a sequence of steps; every lane runs
/// to its end and the errors of all are returned. For work that keeps one
/// core busy (a fuzzer). Not for the bed's machines: two TCG machines at
/// once on this 2-core machine each ran 2.8 times slower (measured), worse
/// than running them in turn.
pub fn side_by_side<'a>(lanes: Vec<Box<dyn FnOnce() -> Result<()> + Send + 'a>>) -> Result<()> {
    let errors: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = lanes.into_iter().map(|lane| s.spawn(lane)).collect();
        handles
            .into_iter()
            .filter_map(|h| match h.join() {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e.0),
                Err(_) => Some("a lane of steps panicked".into()),
            })
            .collect()
    });
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error(errors.join("\n")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keyed_build_keeps_the_newest_other_build_only() {
        let top = std::env::temp_dir().join(format!("xtask-cached-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&top);
        let ctx = Ctx {
            root: top.clone(),
            cache: top.clone(),
            steps: Mutex::new(Vec::new()),
            started: Instant::now(),
        };
        let k = |s: &str| Key::new("t").str(s).finish();
        let build = |key: &str| {
            ctx.cached(&top.join("step").join(key), key, |_| Ok(()))
                .unwrap()
        };
        let left = || {
            let mut v: Vec<String> = std::fs::read_dir(top.join("step"))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        let sorted = |mut v: Vec<String>| {
            v.sort();
            v
        };
        assert!(build(&k("a")));
        std::fs::create_dir_all(top.join("step/not-a-key")).unwrap();
        // An interrupted build: no stamp, left alone.
        std::fs::create_dir_all(top.join("step").join(k("cut"))).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(build(&k("b")));
        assert_eq!(
            left(),
            sorted(vec![k("a"), k("b"), k("cut"), "not-a-key".into()]),
            "one other build is kept"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(build(&k("c")));
        assert_eq!(
            left(),
            sorted(vec![k("b"), k("c"), k("cut"), "not-a-key".into()]),
            "the oldest goes"
        );
        assert!(
            !ctx.cached(&top.join("step").join(k("c")), &k("c"), |_| unreachable!())
                .unwrap(),
            "cached the second time"
        );
        // A failed build removes nothing.
        assert!(ctx
            .cached(&top.join("step").join(k("d")), &k("d"), |_| Err(Error(
                "no".into()
            )))
            .is_err());
        assert!(top.join("step").join(k("b")).join(".xtask-key").exists());
        std::fs::remove_dir_all(&top).unwrap();
    }
}
