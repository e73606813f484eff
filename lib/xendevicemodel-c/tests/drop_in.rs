// SPDX-License-Identifier: MIT
//! The drop-in, without Xen: the same exported symbols and versions as
//! Debian's libxendevicemodel.so.1, byte-identical DM_OP buffers for every
//! function, and NULL safety.
//!
//! Needs gcc, readelf and libxen-dev; `cargo xtask test` installs them and
//! runs these with `--include-ignored`.

use std::path::{Path, PathBuf};
use std::process::Command;

use dmop_abi_tools::capture_shim;

const DEBIAN_LIB: &str = "/usr/lib/x86_64-linux-gnu/libxendevicemodel.so.1";

/// Our libxendevicemodel.so.1, linked once per run by the crate's own
/// `link-so` from the static library cargo built (next to `deps/`): the
/// same step that makes the library dom0 runs.
fn our_library() -> PathBuf {
    static LINKED: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    LINKED
        .get_or_init(|| {
            let exe = std::env::current_exe().unwrap();
            let dir = exe.parent().and_then(Path::parent).unwrap();
            let a = dir.join("libxendevicemodel_c.a");
            assert!(
                a.exists(),
                "{} not built: `cargo build -p xendevicemodel-c` first (cargo xtask test does)",
                a.display()
            );
            // Not next to the archive: cargo puts that directory on the
            // tests' LD_LIBRARY_PATH, where it would shadow Debian's.
            let out = dir.join("xendevicemodel-c");
            std::fs::create_dir_all(&out).unwrap();
            let so = out.join("libxendevicemodel.so.1");
            let tmp = out.join(format!("libxendevicemodel.so.1.{}", std::process::id()));
            sh(
                Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("link-so"))
                    .arg(&a)
                    .arg(&tmp),
            );
            std::fs::rename(&tmp, &so).unwrap();
            so
        })
        .clone()
}

fn sh(cmd: &mut Command) -> String {
    let o = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        o.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Exported symbols with their versions (defined ones only).
fn dynsyms(lib: &Path) -> Vec<String> {
    let out = sh(Command::new("readelf").args(["--dyn-syms", "-W"]).arg(lib));
    let mut v: Vec<String> = out
        .lines()
        .filter(|l| !l.contains(" UND ") && l.contains(':'))
        .filter_map(|l| l.split_whitespace().nth(7).map(str::to_string))
        .filter(|s| !s.is_empty() && s != "Name")
        .collect();
    v.sort();
    v
}

#[test]
#[ignore = "needs libxen-dev and readelf: cargo xtask test runs it"]
fn exports_the_same_symbols_and_versions_as_debian() {
    let ours = dynsyms(&our_library());
    let theirs = dynsyms(Path::new(DEBIAN_LIB));
    assert_eq!(
        theirs.len(),
        26 + 5,
        "26 functions and 5 version nodes: {theirs:?}"
    );
    assert_eq!(ours, theirs);
    let soname = |p: &Path| {
        sh(Command::new("readelf").arg("-d").arg(p))
            .lines()
            .find(|l| l.contains("SONAME"))
            .map(str::to_string)
    };
    assert_eq!(soname(&our_library()), soname(Path::new(DEBIAN_LIB)));
}

struct Harness {
    dir: tempfile::TempDir,
}

impl Harness {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let c = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c");
        std::fs::write(dir.path().join("capture_abi.h"), capture_shim::header()).unwrap();
        sh(Command::new("gcc")
            .args(["-shared", "-fPIC", "-O1", "-Wall", "-Werror", "-I"])
            .arg(dir.path())
            .arg("-o")
            .arg(dir.path().join("capture.so"))
            .arg(c.join("capture.c"))
            .arg("-ldl"));
        for prog in ["ops", "nullsafe"] {
            sh(Command::new("gcc")
                .args(["-O1", "-Wall", "-Werror", "-o"])
                .arg(dir.path().join(prog))
                .arg(c.join(format!("{prog}.c")))
                .arg("-lxendevicemodel"));
        }
        let ours = dir.path().join("ours");
        std::fs::create_dir(&ours).unwrap();
        std::fs::copy(our_library(), ours.join("libxendevicemodel.so.1")).unwrap();
        Self { dir }
    }

    /// Runs `prog` under the capture shim, with our library if `ours`;
    /// returns its stdout and the capture.
    fn run(&self, prog: &str, ours: bool, tag: &str) -> (String, String) {
        let cap = self.dir.path().join(format!("capture-{tag}.log"));
        let mut cmd = Command::new(self.dir.path().join(prog));
        cmd.env("LD_PRELOAD", self.dir.path().join("capture.so"))
            .env("CAPTURE_FILE", &cap);
        if ours {
            cmd.env("LD_LIBRARY_PATH", self.dir.path().join("ours"));
        }
        // Which library actually got loaded is part of the answer.
        let libs = sh(Command::new("sh").arg("-c").arg(format!(
            "{} ldd {}",
            if ours {
                format!("LD_LIBRARY_PATH={}", self.dir.path().join("ours").display())
            } else {
                String::new()
            },
            self.dir.path().join(prog).display()
        )));
        let want = if ours {
            "/ours/libxendevicemodel.so.1"
        } else {
            "x86_64-linux-gnu/libxendevicemodel.so.1"
        };
        assert!(libs.contains(want), "{prog} did not load {want}:\n{libs}");
        let out = sh(&mut cmd);
        (out, std::fs::read_to_string(&cap).unwrap_or_default())
    }
}

#[test]
#[ignore = "needs gcc and libxen-dev: cargo xtask test runs it"]
fn every_function_hands_the_kernel_the_same_bytes_as_debians_library() {
    let h = Harness::new();
    let (out_c, cap_c) = h.run("ops", false, "debian");
    let (out_rs, cap_rs) = h.run("ops", true, "ours");
    assert!(
        cap_c.lines().filter(|l| l.starts_with("DM_OP")).count() >= 30,
        "the capture saw the ops:\n{cap_c}"
    );
    // Both probe DM_OP at open with DOMID_INVALID and no buffer.
    assert!(cap_c.contains("DM_OP dom=32756 num=0"), "{cap_c}");
    for (a, b, what) in [
        (&out_c, &out_rs, "return values"),
        (&cap_c, &cap_rs, "ioctl capture"),
    ] {
        if a != b {
            let diff: Vec<String> = a
                .lines()
                .zip(b.lines())
                .filter(|(x, y)| x != y)
                .map(|(x, y)| format!("  debian: {x}\n  ours:   {y}"))
                .collect();
            panic!(
                "{what} differ ({} vs {} lines):\n{}",
                a.lines().count(),
                b.lines().count(),
                diff.join("\n")
            );
        }
    }
}

#[test]
#[ignore = "needs gcc and libxen-dev: cargo xtask test runs it"]
fn null_handles_and_outputs_give_einval_not_a_crash() {
    let h = Harness::new();
    let (out, _) = h.run("nullsafe", true, "null");
    assert!(!out.contains("FAIL"), "{out}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("ok ")).count(),
        10,
        "{out}"
    );
}
