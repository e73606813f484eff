// SPDX-License-Identifier: MIT
//! The `virtio` suite: a Linux guest boots with its root filesystem on a
//! virtio-blk disk that a deprivileged xen-thin-dm serves over virtio-mmio.
//!
//! The guest is unmodified Linux (its own virtio-mmio, virtio-blk and ext4
//! drivers); the linuxboot firmware only loads it. Its `init` writes a
//! file, reads it back past the page cache, moves 4 MiB through the disk,
//! and stops the guest through the debug-exit port with its verdict. A
//! second boot of the same disk must find the first boot's file.
//!
//! The device model also serves a second disk the kernel is not told
//! about: the guest's `bin/hostile` drives it directly with malformed
//! queues and requests (`tests/linux-guest/hostile.c`). Every case must
//! hold, the device model must stay up and keep serving the root disk, and
//! that disk's file must be unchanged but for the one sector the program
//! legitimately wrote.
//!
//! Boot 1 runs on privcmd-restrict, whose ioeventfds answer the guest's
//! queue notifies in the kernel; boot 2 on Linux's privcmd, which has none
//! here, so the notifies take the ioreq loop: both paths serve the guest.

use std::time::Instant;

use crate::devicemodel::{check_confined_fsize, dm_args, dm_log, dm_pid, thin_dm_path, wait_for};
use crate::tap::Tap;
use crate::xl::{self, Guest};

/// The linuxboot firmware with the guest kernel (`$XDM_LINUX_GUEST` overrides).
fn firmware() -> String {
    std::env::var("XDM_LINUX_GUEST").unwrap_or_else(|_| crate::contract::LINUXBOOT.into())
}

/// The pristine root disk (`$XDM_LINUX_DISK` overrides).
fn pristine_disk() -> String {
    std::env::var("XDM_LINUX_DISK").unwrap_or_else(|_| crate::contract::LINUX_DISK.into())
}

const DISK: &str = "/tmp/xdm-virtio-disk.img";
/// The hostile program's disk: the second `--virtio-blk`, in the board slot
/// the guest's command line leaves out.
const HOSTILE_DISK: &str = "/tmp/xdm-virtio-hostile.img";
/// Its size: 2048 sectors.
const HOSTILE_SECTORS: u64 = 2048;
/// The one sector the hostile program writes (with 0x5a bytes).
const HOSTILE_WRITTEN: u64 = 5;

/// The hostile disk's pristine content: each sector filled with its own byte.
fn hostile_pristine() -> Vec<u8> {
    (0..HOSTILE_SECTORS * 512)
        .map(|i| ((i / 512) * 7 + 1) as u8)
        .collect()
}

/// The sectors of the hostile disk that differ from what they must be.
fn hostile_damage() -> Result<Vec<u64>, String> {
    let now = std::fs::read(HOSTILE_DISK).map_err(|e| format!("{HOSTILE_DISK}: {e}"))?;
    let mut want = hostile_pristine();
    let w = (HOSTILE_WRITTEN * 512) as usize;
    want[w..w + 512].fill(0x5a);
    if now.len() != want.len() {
        return Err(format!("{} bytes, not {}", now.len(), want.len()));
    }
    Ok((0..HOSTILE_SECTORS)
        .filter(|s| {
            let r = (*s * 512) as usize..(*s * 512 + 512) as usize;
            now[r.clone()] != want[r]
        })
        .collect())
}
const NAME: &str = "virtio-guest";

/// How long a boot may take (nested TCG: the kernel boots in tens of seconds).
const BOOT_SECS: u64 = 300;

/// The xl configuration of boot `n`: 1 with the escape self-test, 2 on
/// Linux's privcmd, 3 with the devices on virtio-pci.
fn config(dm: &str, uart: &str, n: u32) -> String {
    let dm_lines = format!(
        "device_model_version = \"qemu-xen-traditional\"\ndevice_model_override = \"{dm}\"\n"
    );
    let extra = format!(
        "{}on_poweroff = \"destroy\"\non_reboot = \"destroy\"\non_crash = \"destroy\"\n",
        {
            let mut args = vec![
                "--virtio-blk",
                DISK,
                "--virtio-blk",
                HOSTILE_DISK,
                "--virtio-console",
                "--virtio-rng",
                "--uart-log",
                uart,
            ];
            match n {
                1 => args.push("--escape-test"),
                // The second boot on Linux's own privcmd, which offers no
                // ioeventfd here: the queue notifies take the ioreq loop.
                2 => args.extend(["--privcmd", "/dev/xen/privcmd"]),
                _ => args.extend(["--virtio-transport", "pci"]),
            }
            dm_args(&args)
        }
    );
    xl::guest_config_with(NAME, &firmware(), &dm_lines, &extra)
        .replace("memory = 32", "memory = 128")
}

/// A fresh copy of the pristine disk at [`DISK`]; its size.
pub fn fresh_disk() -> Result<u64, String> {
    std::fs::copy(pristine_disk(), DISK).map_err(|e| format!("{}: {e}", pristine_disk()))
}

/// Boots the guest once (boot `n` of the disk; the first one with the
/// confinement checks and the escape self-test); returns its console
/// output and the DM's log.
pub fn boot(t: &mut Tap, n: u32, disk_size: u64) -> Option<(String, String)> {
    let dm = thin_dm_path();
    if let Err(e) = std::fs::write(HOSTILE_DISK, hostile_pristine()) {
        t.check(&format!("boot {n}: the hostile program's disk"), false, e);
        return None;
    }
    let uart = format!("/tmp/virtio-uart-{n}.log");
    let _ = std::fs::remove_file(&uart);
    let g = match Guest::create_from(NAME, &config(&dm, &uart, n), true) {
        Ok(g) => g,
        Err(e) => {
            t.check(
                &format!("boot {n}: xl create of the Linux guest with xen-thin-dm"),
                false,
                e,
            );
            t.note(dm_log(NAME));
            return None;
        }
    };
    t.check(
        &format!("boot {n}: xl create of the Linux guest with xen-thin-dm"),
        true,
        "",
    );
    if let Some(pid) = dm_pid(g.domid) {
        if n == 1 {
            check_confined_fsize(
                t,
                pid,
                xen_thin_dm::cli::UID_BASE + u32::from(g.domid.0),
                Some(xen_thin_dm::depriv::EMPTY_ROOT),
                // With disks: the largest one's size, no more.
                disk_size,
            );
        }
    }
    run_to_end(t, n, NAME, Instant::now(), BOOT_SECS);
    let console = std::fs::read_to_string(&uart).unwrap_or_default();
    let log = dm_log(NAME);
    drop(g);
    Some((console, log))
}

/// Boot `n`: unpauses guest `name` and waits up to `secs` for it to end
/// (checked, with the time since `start`).
pub(crate) fn run_to_end(t: &mut Tap, n: u32, name: &str, start: Instant, secs: u64) {
    let (ok, out) = xl::run("xl", &["unpause", name]);
    t.check(&format!("boot {n}: xl unpause"), ok, out);
    let gone = wait_for(secs, || xl::list_state(name).is_none().then_some(()));
    t.check(
        &format!(
            "boot {n}: the guest ran to its end ({:.0} s)",
            start.elapsed().as_secs_f64()
        ),
        gone.is_some(),
        format_args!("still running after {secs} s"),
    );
}

/// The suite (on Arm: [`crate::virtio_arm`]).
pub fn run() -> i32 {
    if cfg!(target_arch = "aarch64") {
        return crate::virtio_arm::run();
    }
    let mut t = Tap::new("virtio");
    let size = match fresh_disk() {
        Ok(s) => s,
        Err(e) => {
            t.check("a fresh copy of the guest's root disk", false, e);
            return t.finish();
        }
    };
    for n in 1..=2 {
        let Some((console, log)) = boot(&mut t, n, size) else {
            break;
        };
        let pass = t.check(
            &format!("boot {n}: Linux mounted its root from xen-thin-dm's virtio disk and its checks passed"),
            console.contains("XDM-GUEST: PASS"),
            "no PASS on the guest's console",
        );
        t.check(
            &format!("boot {n}: the device model saw the guest stop with code 0"),
            log.contains("the guest asked to stop with code 0"),
            "",
        );
        t.check(
            &format!("boot {n}: the guest counts this boot as number {n} of the disk"),
            console.contains(&format!("XDM-GUEST: boot {n} of this disk")),
            "",
        );
        t.check(
            &format!("boot {n}: the guest printed through its virtio console"),
            console.contains("XDM-GUEST: hello through virtio-console"),
            "",
        );
        t.check(
            &format!("boot {n}: the guest read entropy from the virtio rng (/dev/hwrng)"),
            console.contains("XDM-GUEST: read 256 bytes from /dev/hwrng"),
            "",
        );
        hostile_checks(&mut t, n, &console, &log);
        if n == 1 {
            let refused = escapes_refused(&log);
            t.check(
                "boot 1: every escape attempt of the device model with a disk was refused, re-opening its disk and writing past its end included",
                matches!(refused, Some((a, b)) if a == b && b > 0)
                    && log.contains("re-open its disk by path")
                    && log.contains("write past the end of its disk"),
                format_args!("{refused:?}"),
            );
            // Its disk (24 MiB) raises RLIMIT_FSIZE above --max-file-size
            // (8 MiB): were its stdout the log file, this write would grow
            // the log. It is a pipe to the logger.
            let row = log
                .lines()
                .find(|l| {
                    l.trim_start()
                        .starts_with("write its log past --max-file-size")
                })
                .unwrap_or_default();
            t.check(
                "boot 1: writing its log past --max-file-size is refused (ESPIPE: a pipe to its logger), before seccomp and after",
                row.split("refused ").nth(1).is_some_and(|c| c.starts_with("ESPIPE"))
                    && row.matches("refused").count() == 2,
                row,
            );
        }
        if n == 2 {
            t.check(
                "boot 2: the first boot's file was there, byte for byte",
                console.contains("XDM-GUEST: the previous boot's file read back"),
                "",
            );
        }
        t.check(
            &format!("boot {n}: the device model mapped the guest's RAM and served virtio-blk on virtio-mmio"),
            log.contains("guest RAM: ") && log.contains("on virtio-mmio at 0xfe000000"),
            "",
        );
        let (node, path) = if n == 1 {
            (
                "privcmd-restrict",
                "ioeventfds on /dev/xen/privcmd-restrict",
            )
        } else {
            ("Linux's privcmd", "virtio notifies: through the ioreq loop")
        };
        t.check(
            &format!("boot {n}: on {node} the queue notifies took the expected path ({path})"),
            log.contains(path),
            "",
        );
        if !pass || n == 2 {
            t.note("--- the guest's console");
            t.note(tail(&console, 60));
            t.note("--- the device model's log");
            t.note(&log);
        }
        if !pass {
            break;
        }
    }
    pci_boot(&mut t, size);
    t.check(
        "the disk image kept its size",
        std::fs::metadata(DISK).map(|m| m.len()).unwrap_or(0) == size,
        "",
    );
    let _ = std::fs::remove_file(DISK);
    let _ = std::fs::remove_file(HOSTILE_DISK);
    t.finish()
}

/// What the hostile program's run must show, inside and outside the guest.
fn hostile_checks(t: &mut Tap, n: u32, console: &str, log: &str) {
    let lines: Vec<&str> = console
        .lines()
        .filter_map(|l| l.split("XDM-HOSTILE: ").nth(1))
        .collect();
    let cases: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("ok ") || l.starts_with("not ok "))
        .collect();
    let failed: Vec<&&&str> = cases.iter().filter(|l| l.starts_with("not ok")).collect();
    t.check(
        &format!(
            "boot {n}: the hostile guest's {} cases against the second disk all held (malformed chains, buffers outside RAM and in Xen's special pages, wrapping lengths and sectors, indices beyond the ring, missing queues, negotiation out of order)",
            cases.len()
        ),
        cases.len() >= 20 && failed.is_empty(),
        format_args!("{lines:#?}"),
    );
    t.check(
        &format!("boot {n}: the hostile guest saw the disk's real size"),
        lines
            .iter()
            .any(|l| l.contains(&format!("{HOSTILE_SECTORS} sectors"))),
        "",
    );
    t.check(
        &format!("boot {n}: after the hostile cases the device model still served the root disk"),
        console.contains("XDM-GUEST: the root disk still works after the hostile cases"),
        "",
    );
    t.check(
        &format!("boot {n}: the device model logged the driver's rule breaks (NEEDS_RESET)"),
        log.contains("the driver broke the virtio rules"),
        "",
    );
    let damage = hostile_damage();
    t.check(
        &format!(
            "boot {n}: the hostile disk is unchanged but for sector {HOSTILE_WRITTEN}, which the program wrote legitimately"
        ),
        damage.as_ref().is_ok_and(|d| d.is_empty()),
        format_args!("sectors that differ: {damage:?}"),
    );
}

/// Boot 3: the same guest and disk with the devices on virtio-pci behind a
/// host bridge, found by Linux's own PCI scan and virtio-pci driver.
fn pci_boot(t: &mut Tap, size: u64) {
    let Some((console, log)) = boot(t, 3, size) else {
        return;
    };
    let pass = t.check(
        "boot 3 (virtio-pci): Linux mounted its root from the virtio-pci disk and its checks passed",
        console.contains("XDM-GUEST: PASS") && console.contains("XDM-GUEST: boot 3 of this disk"),
        "no PASS on the guest's console",
    );
    t.check(
        "boot 3 (virtio-pci): the disk, console and rng sat on PCI functions, INTA routed to an ISA IRQ",
        log.contains("on virtio-pci at 00:04.0")
            && log.contains("virtio-console on virtio-pci")
            && log.contains("virtio-rng (/dev/urandom) on virtio-pci")
            && log.contains("PCI link 0 routed to ISA IRQ 5"),
        "",
    );
    let msis = served(&log, "msi");
    t.check(
        "boot 3 (virtio-pci): Linux enabled MSI-X, and the devices interrupted it with messages (Xen's inject_msi), not INTx",
        msis > 0,
        format_args!("{msis} MSI messages in the device model's summary"),
    );
    t.check(
        "boot 3 (virtio-pci): the console and the rng worked",
        console.contains("XDM-GUEST: hello through virtio-console")
            && console.contains("XDM-GUEST: read 256 bytes from /dev/hwrng"),
        "",
    );
    t.check(
        "boot 3 (virtio-pci): the device model saw the guest stop with code 0",
        log.contains("the guest asked to stop with code 0"),
        "",
    );
    t.check(
        "boot 3 (virtio-pci): the hostile program found no virtio-mmio disk and said so",
        console.contains("no hostile disk in the board's virtio-mmio slot: skipped"),
        "",
    );
    // Nothing wrote it: against "pristine but sector 5 written", only
    // sector 5 (still pristine) differs.
    let damage = hostile_damage();
    t.check(
        "boot 3 (virtio-pci): the second disk (vdb to Linux, untouched) is unchanged",
        damage.as_ref().is_ok_and(|d| d == &[HOSTILE_WRITTEN]),
        format_args!("sectors that differ from 'pristine but sector 5': {damage:?}"),
    );
    if !pass {
        t.note(tail(&console, 60));
        t.note(&log);
    }
}

/// How many of `kind` the device model's last "requests served: ..."
/// line counts (0 if none).
pub(crate) fn served(log: &str, kind: &str) -> u64 {
    log.lines()
        .filter_map(|l| l.split("requests served: ").nth(1))
        .next_back()
        .and_then(|r| {
            r.split(", ")
                .find_map(|kv| kv.strip_prefix(kind)?.strip_prefix(' ')?.parse().ok())
        })
        .unwrap_or(0)
}

/// The device model's "escape attempts: A of B refused", from its log.
pub(crate) fn escapes_refused(log: &str) -> Option<(u32, u32)> {
    log.lines()
        .find_map(|l| l.split("escape attempts: ").nth(1))
        .and_then(|r| {
            let mut w = r.split_whitespace();
            let a: u32 = w.next()?.parse().ok()?;
            let b: u32 = w.nth(1)?.parse().ok()?;
            Some((a, b))
        })
}

/// The last `n` lines of `text`.
pub(crate) fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn served_reads_one_kind_of_the_last_summary() {
        let log = "xen-thin-dm: requests served: mmio 3\nxen-thin-dm: requests served: mmio 40, msi 12, pio 7\n";
        assert_eq!(super::served(log, "msi"), 12);
        assert_eq!(super::served(log, "mmio"), 40);
        assert_eq!(super::served(log, "ms"), 0);
        assert_eq!(super::served("", "msi"), 0);
    }
}
