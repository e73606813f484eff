// SPDX-License-Identifier: MIT
//! `bench-virtio`: the Linux guest's virtio-blk throughput and IOPS, and the
//! device model's CPU time per request, with xen-thin-dm (deprivileged,
//! virtio-mmio) and with Debian's QEMU (qemu-xen, virtio-blk-pci) serving
//! the same disk images to the same guest kernel, in the same VM run.
//!
//! The guest runs `blkbench` on a raw second disk (`xdm.bench=vdb` on its
//! command line: 32 MiB of sequential O_DIRECT 1 MiB writes and reads, then
//! 2000 4 KiB O_DIRECT random reads: the same work whichever device model
//! serves it) and prints its figures and the requests its kernel completed
//! on that disk. The device model's CPU time (`/proc/PID/stat`, all its
//! threads) is sampled when the guest says "bench start" and "bench done";
//! the window holds the guest's 2 s pauses around the work. (dom0's own
//! `/proc/stat` was tried for the kernel's share, the ioeventfd handler's
//! among it: its tick-sampled busy time came out below the process's own,
//! so it is not reported.) Rounds alternate; the best figure of
//! each device model is kept. xen-thin-dm runs as shipped (queue notifies
//! through privcmd-restrict's ioeventfds) and with `--no-ioeventfd` (the
//! ioreq loop), the second for information. Prints `BENCH virtio-...
//! reference ours` lines; not a test (it fails only if it cannot measure).

use crate::devicemodel::{dm_args, dm_log, dm_pid, thin_dm_path, wait_for};
use crate::tap::Tap;
use crate::xl::{self, Guest};

const ROUNDS: usize = 3;
/// Debian's QEMU built for Xen.
const QEMU: &str = "/usr/libexec/xen-qemu-system-i386";
/// The guest's root disk, as the test bed's image carries it.
const PRISTINE_ROOT: &str = crate::contract::LINUX_DISK;
/// The guest's command line (the xtask writes the one xen-thin-dm's
/// benchmark firmware carries, for QEMU's direct kernel boot).
const CMDLINE: &str = crate::contract::LINUX_BENCH_CMDLINE;
const ROOT: &str = "/tmp/bench-virtio-root.img";
const DATA: &str = "/tmp/bench-virtio-data.img";
/// The raw disk blkbench measures.
const DATA_MIB: usize = 64;
/// How long a boot and its benchmark may take.
const SECS: u64 = 400;

/// What one run measured.
#[derive(Clone, Copy, Debug, Default)]
struct Figures {
    seq_write: f64,
    seq_read: f64,
    iops: f64,
    /// Device-model CPU milliseconds per 1000 requests.
    cpu_ms: f64,
}

/// User plus system time of `pid` (all threads), in seconds.
fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the command: state is field 3, utime 14, stime 15.
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (hz > 0).then(|| ticks as f64 / hz as f64)
}

fn figure(console: &str, name: &str) -> Option<f64> {
    console.lines().find_map(|l| {
        let rest = l.split("XDM-BENCH: ").nth(1)?;
        let (n, v) = rest.split_once(' ')?;
        (n == name).then(|| v.trim().parse().ok()).flatten()
    })
}

/// Which device model serves the guest.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dm {
    Qemu,
    Thin,
    /// xen-thin-dm with `--no-ioeventfd`.
    ThinIoreqLoop,
}

fn config(name: &str, dm: Dm, console: &str) -> Result<String, String> {
    let thin = dm != Dm::Qemu;
    let end = "on_poweroff = \"destroy\"\non_reboot = \"destroy\"\non_crash = \"destroy\"\n";
    if thin {
        let lines = format!(
            "device_model_version = \"qemu-xen-traditional\"\ndevice_model_override = \"{}\"\n",
            thin_dm_path()
        );
        let mut args = vec![
            "--virtio-blk",
            ROOT,
            "--virtio-blk",
            DATA,
            "--uart-log",
            console,
        ];
        if dm == Dm::ThinIoreqLoop {
            args.push("--no-ioeventfd");
        }
        let args = dm_args(&args);
        return Ok(xl::guest_config_with(
            name,
            crate::contract::LINUXBOOT_BENCH,
            &lines,
            &format!("{args}{end}"),
        )
        .replace("memory = 32", "memory = 128"));
    }
    let cmdline = std::fs::read_to_string(CMDLINE).map_err(|e| format!("{CMDLINE}: {e}"))?;
    let kernel = crate::contract::LINUX_GUEST;
    Ok(format!(
        "name = \"{name}\"\n\
         type = \"hvm\"\n\
         memory = 128\n\
         vcpus = 1\n\
         kernel = \"{kernel}\"\n\
         cmdline = \"{}\"\n\
         xen_platform_pci = 0\n\
         serial = \"file:{console}\"\n\
         vga = \"none\"\n\
         vnc = 0\n\
         sdl = 0\n\
         nographic = 1\n\
         device_model_args_hvm = [ \"-drive\", \"file={ROOT},if=none,id=vd0,format=raw\", \
         \"-device\", \"virtio-blk-pci,drive=vd0\", \
         \"-drive\", \"file={DATA},if=none,id=vd1,format=raw\", \
         \"-device\", \"virtio-blk-pci,drive=vd1\" ]\n\
         {end}",
        cmdline.trim()
    ))
}

/// One boot with device model `dm`; its figures.
fn once(t: &mut Tap, name: &str, dm: Dm) -> Option<Figures> {
    let thin = dm != Dm::Qemu;
    let console = format!("/tmp/{name}-console.log");
    let _ = std::fs::remove_file(&console);
    let fresh = std::fs::copy(PRISTINE_ROOT, ROOT)
        .map_err(|e| format!("{PRISTINE_ROOT}: {e}"))
        .and_then(|_| {
            std::fs::write(DATA, vec![0u8; DATA_MIB << 20]).map_err(|e| format!("{DATA}: {e}"))
        })
        .and_then(|()| config(name, dm, &console));
    let cfg = match fresh {
        Ok(c) => c,
        Err(e) => {
            t.check(&format!("{name}: disks and configuration"), false, e);
            return None;
        }
    };
    let g = match Guest::create_from(name, &cfg, false) {
        Ok(g) => g,
        Err(e) => {
            t.check(&format!("{name} starts"), false, e);
            return None;
        }
    };
    let read = || std::fs::read_to_string(&console).unwrap_or_default();
    let pid = dm_pid(g.domid);
    let start = wait_for(SECS, || {
        read()
            .contains("XDM-GUEST: bench start")
            .then(|| pid.and_then(cpu_secs))
            .flatten()
    });
    let done = start.and_then(|_| {
        wait_for(SECS, || {
            let c = read();
            (c.contains("XDM-GUEST: bench done") || c.contains("bench failed"))
                .then(|| pid.and_then(cpu_secs))
                .flatten()
        })
    });
    let out = read();
    drop(g);
    let measured = (|| {
        let (c0, c1) = (start?, done?);
        let requests = figure(&out, "requests")?.max(1.0);
        Some(Figures {
            seq_write: figure(&out, "seq-write-MBps")?,
            seq_read: figure(&out, "seq-read-MBps")?,
            iops: figure(&out, "rand-read-4k-iops")?,
            cpu_ms: (c1 - c0) * 1000.0 * 1000.0 / requests,
        })
    })();
    let tail: Vec<&str> = out.lines().rev().take(30).collect();
    t.check(
        &format!("{name}: the guest measured its disk ({measured:.1?})"),
        measured.is_some(),
        format_args!(
            "console tail:\n{}\n--- device model log:\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
            if thin { dm_log(name) } else { String::new() }
        ),
    );
    measured
}

/// Runs the benchmark; returns the exit status.
pub fn run() -> i32 {
    let mut t = Tap::new("bench-virtio");
    if !std::path::Path::new(QEMU).exists() {
        t.check("Debian's QEMU for Xen is in the image", false, QEMU);
        return t.finish();
    }
    let (mut q, mut x, mut y): (Option<Figures>, Option<Figures>, Option<Figures>) =
        (None, None, None);
    let best = |a: Option<Figures>, b: Figures| {
        let Some(a) = a else { return Some(b) };
        Some(Figures {
            seq_write: a.seq_write.max(b.seq_write),
            seq_read: a.seq_read.max(b.seq_read),
            iops: a.iops.max(b.iops),
            cpu_ms: a.cpu_ms.min(b.cpu_ms),
        })
    };
    for i in 0..ROUNDS {
        if let Some(f) = once(&mut t, &format!("bench-virtio-qemu-{i}"), Dm::Qemu) {
            q = best(q, f);
        }
        if let Some(f) = once(&mut t, &format!("bench-virtio-thin-{i}"), Dm::Thin) {
            x = best(x, f);
        }
        if let Some(f) = once(
            &mut t,
            &format!("bench-virtio-ioreq-{i}"),
            Dm::ThinIoreqLoop,
        ) {
            y = best(y, f);
        }
    }
    let _ = std::fs::remove_file(ROOT);
    let _ = std::fs::remove_file(DATA);
    for (ours, suffix) in [(x, ""), (y, "-no-ioeventfd")] {
        let (Some(q), Some(x)) = (q, ours) else {
            continue;
        };
        let lines = [
            ("seq-read-MBps", q.seq_read, x.seq_read),
            ("seq-write-MBps", q.seq_write, x.seq_write),
            ("rand-read-4k-iops", q.iops, x.iops),
            ("cpu-ms-per-1000-requests", q.cpu_ms, x.cpu_ms),
        ];
        for (name, reference, ours) in lines {
            println!("BENCH virtio-{name}{suffix} {reference:.1} {ours:.1}");
        }
    }
    t.finish()
}
