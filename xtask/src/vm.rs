// SPDX-License-Identifier: MIT
//! Boots Xen with our dom0 under QEMU (TCG) and runs suites inside dom0.
//!
//! The serial console (Xen's, which carries dom0's `hvc0`) is timestamped
//! into a log. Markers written by `tests/dom0/init` delimit each suite; its
//! TAP lines and exit status make its verdict. A dom0 crash, kernel panic,
//! oops or Xen crash fails the run with what happened and the log's last
//! 40 lines; so does a timeout. QEMU runs in its own process group with a
//! parent-death signal, and is killed whatever happens: none outlives the run.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::arch::Arch;
use crate::ctx::{Context, Ctx, Error, Result};
use crate::sh::tail;

/// What to boot and run.
pub struct VmConfig {
    /// The architecture: which QEMU, machine and boot protocol.
    pub arch: Arch,
    /// The hypervisor (x86_64: multiboot ELF; arm64: its Image).
    pub xen: PathBuf,
    /// dom0's kernel (bzImage, Image).
    pub kernel: PathBuf,
    /// dom0's initramfs.
    pub initrd: PathBuf,
    /// Suites, in order.
    pub suites: Vec<String>,
    /// Extra dom0 command-line words.
    pub dom0_args: Vec<String>,
    /// Whole-run limit.
    pub timeout: Duration,
    /// Interactive: the console is the terminal, nothing is parsed.
    pub shell: bool,
    /// Log file name in the cache's `logs/`.
    pub log_name: String,
    /// Which serial lines to show live.
    pub echo: fn(&str) -> bool,
    /// Names the run on each line shown live (which bed, or `harness`).
    pub tag: String,
}

/// Shows suite output and the init's markers.
pub fn echo_suites(l: &str) -> bool {
    l.starts_with("ok ")
        || l.starts_with("not ok ")
        || l.starts_with("# ")
        || l.starts_with("#   ")
        || l.starts_with("XDM-")
        || l.starts_with("1..")
}

/// One suite's outcome.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SuiteResult {
    /// Its name.
    pub name: String,
    /// Exit status printed by init (None: it never ended).
    pub rc: Option<i32>,
    /// `ok` lines.
    pub passed: u32,
    /// `not ok` lines, with their names.
    pub failures: Vec<String>,
    /// The `1..N` plan, if printed.
    pub plan: Option<u32>,
    /// Every line the suite printed.
    pub output: Vec<String>,
}

impl SuiteResult {
    /// Passed: exit 0, a plan matching the checks, no failure.
    pub fn passed(&self) -> bool {
        self.rc == Some(0)
            && self.failures.is_empty()
            && self.plan == Some(self.passed)
            && self.passed > 0
    }

    /// Why it did not pass.
    pub fn why(&self) -> String {
        if let Some(rc) = self.rc.filter(|_| !self.failures.is_empty()) {
            return format!(
                "{} failed check(s) (exit {rc}): {}",
                self.failures.len(),
                self.failures.join("; ")
            );
        }
        match (self.rc, self.plan) {
            (None, _) => "did not finish".into(),
            (Some(rc), _) if rc != 0 => format!("exited {rc}"),
            (_, None) => "printed no TAP plan".into(),
            (_, Some(p)) => format!("planned {p} checks, {} passed", self.passed),
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// init printed its final marker.
    Completed,
    /// The time limit passed.
    Timeout,
    /// Something crashed (what).
    Crash(String),
    /// QEMU exited before init was done.
    QemuExited(String),
}

/// Everything a run produced.
#[derive(Debug)]
pub struct VmRun {
    /// How it ended.
    pub outcome: Outcome,
    /// Suites in the order they began.
    pub suites: Vec<SuiteResult>,
    /// Oopses and other non-fatal kernel reports seen.
    pub warnings: Vec<String>,
    /// The serial log.
    pub log: PathBuf,
    /// Wall time.
    pub took: Duration,
    /// QEMU's process id (gone by the time the run is returned).
    pub qemu_pid: u32,
    /// What dom0's init said about the bed (`XDM-INFO:` lines): the Xen
    /// release it booted and the hashes of the project's binaries.
    pub info: Vec<String>,
}

/// What a serial line says about the run.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// A fatal crash.
    Fatal(String),
    /// A kernel report that fails the run at its end.
    Warning(String),
    /// init is done.
    Done,
    /// A suite begins.
    SuiteBegin(String),
    /// A suite ended with this status.
    SuiteEnd(String, i32),
    /// Nothing special.
    Other,
}

/// Classifies one serial line.
pub fn classify(line: &str) -> Event {
    let l = line.trim_end();
    if l.contains("Kernel panic - not syncing") {
        return Event::Fatal(format!(
            "dom0 kernel panic: {}",
            after(l, "Kernel panic - not syncing")
        ));
    }
    if l.contains("Domain 0 crashed") {
        return Event::Fatal("Xen reports that dom0 crashed".into());
    }
    if l.contains("Panic on CPU") || l.contains("FATAL TRAP") || l.contains("FATAL PAGE FAULT") {
        return Event::Fatal(format!("Xen crashed: {}", l.trim()));
    }
    if l.starts_with("XDM-INIT: FAILED") {
        return Event::Fatal(format!("dom0 init failed: {}", after(l, "FAILED:")));
    }
    for w in [
        "Oops:",
        "BUG: ",
        "general protection fault",
        "WARNING: CPU:",
        "Unable to handle kernel",
    ] {
        if l.contains(w) && !l.starts_with("ok ") && !l.starts_with("#") {
            return Event::Warning(format!("dom0 kernel report: {}", l.trim()));
        }
    }
    if l.starts_with("XDM-INIT: done") {
        return Event::Done;
    }
    if let Some(s) = l.strip_prefix("XDM-SUITE-BEGIN ") {
        return Event::SuiteBegin(s.trim().to_string());
    }
    if let Some(rest) = l.strip_prefix("XDM-SUITE-END ") {
        let mut it = rest.split_whitespace();
        let name = it.next().unwrap_or("").to_string();
        let rc = it
            .next()
            .and_then(|r| r.strip_prefix("rc="))
            .and_then(|r| r.parse().ok())
            .unwrap_or(-1);
        return Event::SuiteEnd(name, rc);
    }
    Event::Other
}

fn after<'a>(l: &'a str, pat: &str) -> &'a str {
    l.split_once(pat)
        .map_or(l, |(_, r)| r.trim_start_matches([':', ' ']))
}

/// Folds one line into the suite results.
pub fn fold(suites: &mut Vec<SuiteResult>, ev: &Event, line: &str) {
    match ev {
        Event::SuiteBegin(n) => suites.push(SuiteResult {
            name: n.clone(),
            ..Default::default()
        }),
        Event::SuiteEnd(n, rc) => {
            if let Some(s) = suites.iter_mut().rev().find(|s| &s.name == n) {
                s.rc = Some(*rc);
            }
        }
        _ => {
            let Some(s) = suites.last_mut().filter(|s| s.rc.is_none()) else {
                return;
            };
            s.output.push(line.to_string());
            if let Some(rest) = line.strip_prefix("not ok ") {
                s.failures
                    .push(rest.split_once(" - ").map_or(rest, |(_, n)| n).to_string());
            } else if line.starts_with("ok ") {
                s.passed += 1;
            } else if let Some(p) = line.strip_prefix("1..") {
                s.plan = p.trim().parse().ok();
            }
        }
    }
}

/// The machine's RAM in MiB (`-m`).
const RAM_MIB: &str = "3072";

/// What every bed's QEMU gets: the machine's size, no display or default
/// devices, the serial console on stdio, and no reboot (a power-off ends
/// the run).
const QEMU_COMMON: &[&str] = &[
    "-smp",
    "2",
    "-m",
    RAM_MIB,
    "-display",
    "none",
    "-nodefaults",
    "-monitor",
    "none",
    "-serial",
    "stdio",
    "-no-reboot",
];

/// dom0's memory and vCPUs, on Xen's command line.
const DOM0_SIZE: &str = "dom0_mem=1024M,max:1024M dom0_max_vcpus=1";

/// The QEMU command line.
pub fn qemu_command(cfg: &VmConfig) -> Command {
    // panic_on_warn: a kernel warning (the page allocator's on an oversized
    // request, a lockdep report) ends the run as a dom0 panic, not a log line.
    let mut dom0 = vec![
        "console=hvc0".to_string(),
        "earlyprintk=xen".into(),
        "rdinit=/init".into(),
        "panic=-1".into(),
        "panic_on_warn=1".into(),
    ];
    if !cfg.suites.is_empty() {
        // "," separates multiboot modules in -initrd: suites are joined with "+".
        dom0.push(format!("xdm.suites={}", cfg.suites.join("+")));
    }
    if cfg.shell {
        dom0.push("xdm.shell=1".into());
    }
    dom0.extend(cfg.dom0_args.iter().cloned());
    if cfg.arch == Arch::Arm64 {
        return qemu_command_arm64(cfg, &dom0);
    }
    let xen_args = format!("console=com1 com1=115200,8n1 loglvl=all guest_loglvl=all {DOM0_SIZE}");
    let mut c = Command::new(cfg.arch.qemu().0);
    c.args([
        "-accel",
        "tcg",
        "-machine",
        "q35",
        "-cpu",
        "qemu64,+svm,+npt",
    ])
    .args(QEMU_COMMON)
    .arg("-kernel")
    .arg(&cfg.xen)
    .arg("-append")
    .arg(xen_args)
    .arg("-initrd")
    .arg(format!(
        "{} {},{}",
        cfg.kernel.display(),
        dom0.join(" "),
        cfg.initrd.display()
    ));
    c
}

/// Where QEMU's guest-loader puts dom0's kernel and initramfs in the `virt`
/// machine's RAM, which starts at 1 GiB. QEMU puts Xen at its start and
/// the device tree 128 MiB in (where an `-initrd` would go): the kernel
/// goes 32 MiB above that, the initramfs 160 MiB above the kernel.
const ARM64_KERNEL_AT: u64 = 0x4a00_0000;
const ARM64_INITRD_AT: u64 = 0x5400_0000;

/// Fails unless dom0's kernel fits below the initramfs and the initramfs
/// in RAM, where [`qemu_command_arm64`] places them (QEMU would overlap
/// them silently, and Xen find a broken kernel).
fn arm64_fits(cfg: &VmConfig) -> Result<()> {
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(u64::MAX);
    let kernel = size(&cfg.kernel);
    if kernel > ARM64_INITRD_AT - ARM64_KERNEL_AT {
        crate::bail!(
            "dom0's kernel {} ({kernel} bytes) does not fit below the initramfs at {ARM64_INITRD_AT:#x} (room: {} bytes; see ARM64_KERNEL_AT in xtask/src/vm.rs)",
            cfg.kernel.display(),
            ARM64_INITRD_AT - ARM64_KERNEL_AT
        );
    }
    let initrd = size(&cfg.initrd);
    // The `virt` machine's RAM starts at 1 GiB.
    let ram = RAM_MIB.parse::<u64>().unwrap_or(0) << 20;
    let room = (0x4000_0000 + ram).saturating_sub(ARM64_INITRD_AT);
    if initrd > room {
        crate::bail!(
            "the initramfs {} ({initrd} bytes) does not fit in the machine's RAM above {ARM64_INITRD_AT:#x} (room: {room} bytes)",
            cfg.initrd.display()
        );
    }
    Ok(())
}

/// arm64: `virt` with EL2 (Xen runs there) and GICv3, Xen as the kernel
/// QEMU boots (it takes QEMU's device tree), dom0's kernel and initramfs
/// as device-tree boot modules placed by QEMU's `guest-loader` (the
/// `multiboot,module` nodes Xen on Arm reads), dom0's command line as its
/// kernel module's `bootargs`.
fn qemu_command_arm64(cfg: &VmConfig, dom0: &[String]) -> Command {
    // QEMU's option syntax doubles a comma inside a value.
    let bootargs = dom0.join(" ").replace(',', ",,");
    let mut c = Command::new(cfg.arch.qemu().0);
    c.args([
        "-accel",
        "tcg",
        "-machine",
        "virt,virtualization=on,gic-version=3",
        "-cpu",
        "cortex-a57",
    ])
    .args(QEMU_COMMON)
    .arg("-kernel")
    .arg(&cfg.xen)
    .arg("-append")
    .arg(format!(
        "console=dtuart loglvl=all guest_loglvl=all {DOM0_SIZE}"
    ))
    .arg("-device")
    .arg(format!(
        "guest-loader,addr={ARM64_KERNEL_AT:#x},kernel={},bootargs={bootargs}",
        cfg.kernel.display().to_string().replace(',', ",,")
    ))
    .arg("-device")
    .arg(format!(
        "guest-loader,addr={ARM64_INITRD_AT:#x},initrd={}",
        cfg.initrd.display().to_string().replace(',', ",,")
    ));
    c
}

/// Kills QEMU (its whole process group) when dropped.
struct Guard {
    child: Child,
    group: bool,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let pid = self.child.id() as i32;
        // SAFETY: plain signal sends to a process (group) we started.
        unsafe {
            if self.group {
                libc::kill(-pid, libc::SIGKILL);
            }
            libc::kill(pid, libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

fn spawn(mut c: Command, group: bool, arch: Arch) -> Result<Guard> {
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        c.pre_exec(move || {
            if group {
                libc::setpgid(0, 0);
            }
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let (qemu, pkg) = arch.qemu();
    let child = c
        .spawn()
        .ctx(format!("cannot start {qemu} (is {pkg} installed?)"))?;
    Ok(Guard { child, group })
}

/// Boots, runs, and returns what happened (no verdict: see [`verdict`]).
pub fn run(ctx: &Ctx, cfg: &VmConfig) -> Result<VmRun> {
    for (what, p) in [
        ("hypervisor", &cfg.xen),
        ("dom0 kernel", &cfg.kernel),
        ("initramfs", &cfg.initrd),
    ] {
        if !p.exists() {
            crate::bail!("the {what} {} does not exist", p.display());
        }
    }
    if cfg.arch == Arch::Arm64 {
        arm64_fits(cfg)?;
    }
    let log = ctx.log(&cfg.log_name);
    let start = Instant::now();
    if cfg.shell {
        let mut c = qemu_command(cfg);
        c.stdin(Stdio::inherit())
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit());
        let mut g = spawn(c, false, cfg.arch)?;
        let qemu_pid = g.child.id();
        let st = g.child.wait()?;
        return Ok(VmRun {
            outcome: if st.success() {
                Outcome::Completed
            } else {
                Outcome::QemuExited(st.to_string())
            },
            suites: Vec::new(),
            warnings: Vec::new(),
            log,
            took: start.elapsed(),
            qemu_pid,
            info: Vec::new(),
        });
    }
    let mut c = qemu_command(cfg);
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut g = spawn(c, true, cfg.arch)?;
    let qemu_pid = g.child.id();
    let mut file = std::fs::File::create(&log).ctx(format!("creating {}", log.display()))?;
    let (tx, rx) = mpsc::channel::<String>();
    for r in [
        Box::new(g.child.stdout.take().expect("piped")) as Box<dyn std::io::Read + Send>,
        Box::new(g.child.stderr.take().expect("piped")),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut r = BufReader::new(r);
            let mut buf = Vec::new();
            while r
                .read_until(b'\n', &mut buf)
                .map(|n| n > 0)
                .unwrap_or(false)
            {
                let s = String::from_utf8_lossy(&buf).replace('\r', "");
                let _ = tx.send(s.trim_end_matches('\n').to_string());
                buf.clear();
            }
        });
    }
    drop(tx);
    let mut suites = Vec::new();
    let mut warnings = Vec::new();
    let mut info = Vec::new();
    let deadline = start + cfg.timeout;
    let outcome = loop {
        let now = Instant::now();
        if now >= deadline {
            break Outcome::Timeout;
        }
        match rx.recv_timeout(deadline - now) {
            Ok(line) => {
                let t = start.elapsed().as_secs_f64();
                let _ = writeln!(file, "[{t:8.2}] {line}");
                if (cfg.echo)(&line) {
                    println!("    [vm {} {t:6.1}s] {line}", cfg.tag);
                }
                if let Some(i) = line.strip_prefix("XDM-INFO: ") {
                    info.push(i.trim().to_string());
                }
                let ev = classify(&line);
                fold(&mut suites, &ev, &line);
                match ev {
                    Event::Fatal(what) => break Outcome::Crash(what),
                    Event::Warning(w) => warnings.push(w),
                    Event::Done => break Outcome::Completed,
                    _ => {}
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => break Outcome::Timeout,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let st = g.child.wait()?;
                break Outcome::QemuExited(st.to_string());
            }
        }
    };
    // Let a clean power-off finish on its own, briefly; then kill.
    if outcome == Outcome::Completed {
        let until = Instant::now() + Duration::from_secs(15);
        while Instant::now() < until {
            if g.child.try_wait()?.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    // Drain what is buffered, for the log; after a crash, what follows
    // within a second too (the panic's reason comes after its first line).
    let until = Instant::now()
        + if matches!(outcome, Outcome::Crash(_)) {
            Duration::from_secs(1)
        } else {
            Duration::ZERO
        };
    // At most this many lines: a console that never stops ends here.
    for _ in 0..100_000 {
        let wait = until.saturating_duration_since(Instant::now());
        let line = if wait.is_zero() {
            rx.try_recv().ok()
        } else {
            rx.recv_timeout(wait).ok()
        };
        let Some(line) = line else { break };
        let _ = writeln!(file, "[{:8.2}] {line}", start.elapsed().as_secs_f64());
    }
    drop(g);
    Ok(VmRun {
        outcome,
        suites,
        warnings,
        log,
        took: start.elapsed(),
        qemu_pid,
        info,
    })
}

/// Turns a run into a verdict: every expected suite passed, nothing crashed.
pub fn verdict(run: &VmRun, expected: &[String]) -> Result<()> {
    let tail40 = || tail(&run.log, 40);
    match &run.outcome {
        Outcome::Completed => {}
        Outcome::Timeout => {
            return Err(Error(format!(
                "timed out after {:.0}s (QEMU killed); last 40 lines of {}:\n{}",
                run.took.as_secs_f64(),
                run.log.display(),
                tail40()
            )))
        }
        Outcome::Crash(what) => {
            return Err(Error(format!(
                "{what}; last 40 lines of {}:\n{}",
                run.log.display(),
                tail40()
            )))
        }
        Outcome::QemuExited(st) => {
            return Err(Error(format!(
                "QEMU exited ({st}) before dom0 was done; last 40 lines of {}:\n{}",
                run.log.display(),
                tail40()
            )))
        }
    }
    let mut problems = Vec::new();
    for name in expected {
        match run.suites.iter().find(|s| &s.name == name) {
            None => problems.push(format!("suite {name} never ran")),
            Some(s) if !s.passed() => problems.push(format!("suite {name}: {}", s.why())),
            Some(_) => {}
        }
    }
    problems.extend(run.warnings.iter().cloned());
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error(format!(
            "{} (log: {})",
            problems.join("\n  "),
            run.log.display()
        )))
    }
}

/// Prints one line per suite.
pub fn print_summary(run: &VmRun) {
    for s in &run.suites {
        println!(
            "    suite {:<24} {}  ({} passed, {} failed)",
            s.name,
            if s.passed() { "PASS" } else { "FAIL" },
            s.passed,
            s.failures.len()
        );
    }
}

/// Whether a process is still alive (a zombie counts as gone).
pub fn qemu_alive(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    if stat.split(") ").nth(1).is_some_and(|r| r.starts_with('Z')) {
        return false;
    }
    Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(lines: &[&str]) -> (Vec<SuiteResult>, Vec<Event>) {
        let mut suites = Vec::new();
        let mut evs = Vec::new();
        for l in lines {
            let ev = classify(l);
            fold(&mut suites, &ev, l);
            evs.push(ev);
        }
        (suites, evs)
    }

    #[test]
    fn an_arm64_kernel_too_large_for_its_slot_is_refused() {
        let dir = std::env::temp_dir().join(format!("xtask-arm64-fits-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let small = dir.join("small");
        std::fs::write(&small, b"x").unwrap();
        let big = dir.join("big");
        // Sparse: one byte past the room below the initramfs.
        std::fs::File::create(&big)
            .unwrap()
            .set_len(ARM64_INITRD_AT - ARM64_KERNEL_AT + 1)
            .unwrap();
        let cfg = |kernel: &Path, initrd: &Path| VmConfig {
            arch: Arch::Arm64,
            xen: small.clone(),
            kernel: kernel.to_path_buf(),
            initrd: initrd.to_path_buf(),
            suites: Vec::new(),
            dom0_args: Vec::new(),
            timeout: Duration::ZERO,
            shell: false,
            log_name: String::new(),
            echo: echo_suites,
            tag: String::new(),
        };
        assert!(arm64_fits(&cfg(&small, &small)).is_ok());
        let e = arm64_fits(&cfg(&big, &small)).unwrap_err().0;
        assert!(e.contains("does not fit below the initramfs"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failing_check_fails_its_suite() {
        let (s, _) = feed(&[
            "XDM-SUITE-BEGIN x",
            "ok 1 - a",
            "not ok 2 - b",
            "#   why",
            "1..2",
            "XDM-SUITE-END x rc=1",
        ]);
        assert_eq!(s[0].passed, 1);
        assert_eq!(s[0].failures, vec!["b".to_string()]);
        assert!(!s[0].passed());
        assert!(s[0].why().contains("1 failed check(s)"), "{}", s[0].why());
    }

    #[test]
    fn a_suite_passes_only_with_a_matching_plan_and_exit_0() {
        let (s, _) = feed(&[
            "XDM-SUITE-BEGIN x",
            "ok 1 - a",
            "1..1",
            "XDM-SUITE-END x rc=0",
        ]);
        assert!(s[0].passed());
        let (s, _) = feed(&[
            "XDM-SUITE-BEGIN x",
            "ok 1 - a",
            "1..2",
            "XDM-SUITE-END x rc=0",
        ]);
        assert!(!s[0].passed(), "a check went missing");
        let (s, _) = feed(&[
            "XDM-SUITE-BEGIN x",
            "ok 1 - a",
            "1..1",
            "XDM-SUITE-END x rc=3",
        ]);
        assert!(!s[0].passed());
        let (s, _) = feed(&["XDM-SUITE-BEGIN x", "ok 1 - a"]);
        assert_eq!(s[0].why(), "did not finish");
    }

    #[test]
    fn crashes_are_recognised() {
        assert!(
            matches!(classify("[ 3.1] Kernel panic - not syncing: Attempted to kill init!"), Event::Fatal(w) if w.contains("dom0 kernel panic: Attempted to kill init"))
        );
        assert!(matches!(
            classify("(XEN) Domain 0 crashed: rebooting machine in 5 seconds."),
            Event::Fatal(_)
        ));
        assert!(matches!(
            classify("(XEN) ****************************************\n"),
            Event::Other
        ));
        assert!(
            matches!(classify("(XEN) Panic on CPU 0:"), Event::Fatal(w) if w.starts_with("Xen crashed"))
        );
        assert!(matches!(
            classify("[   12.0] BUG: kernel NULL pointer dereference, address: 0"),
            Event::Warning(_)
        ));
        assert!(
            matches!(classify("XDM-INIT: FAILED: xenstored"), Event::Fatal(w) if w.contains("xenstored"))
        );
        assert_eq!(classify("XDM-INIT: done at 20.1s"), Event::Done);
        assert_eq!(classify("ok 3 - no Oops: seen in dmesg"), Event::Other);
    }

    #[test]
    fn verdict_names_the_failing_suite_and_check() {
        let dir = std::env::temp_dir().join("xtask-verdict-test.log");
        std::fs::write(&dir, "line\n").unwrap();
        let (suites, _) = feed(&[
            "XDM-SUITE-BEGIN s",
            "ok 1 - a",
            "not ok 2 - the deliberate one",
            "1..2",
            "XDM-SUITE-END s rc=1",
        ]);
        let run = VmRun {
            outcome: Outcome::Completed,
            suites,
            warnings: vec![],
            log: dir.clone(),
            took: Duration::ZERO,
            qemu_pid: 0,
            info: vec![],
        };
        let e = verdict(&run, &["s".into()]).unwrap_err().0;
        assert!(
            e.contains("suite s: 1 failed check(s)") && e.contains("the deliberate one"),
            "{e}"
        );
        let run = VmRun {
            outcome: Outcome::Timeout,
            suites: vec![],
            warnings: vec![],
            log: dir,
            took: Duration::from_secs(9),
            qemu_pid: 0,
            info: vec![],
        };
        let e = verdict(&run, &[]).unwrap_err().0;
        assert!(
            e.contains("timed out") && e.contains("last 40 lines"),
            "{e}"
        );
    }
}
