// SPDX-License-Identifier: MIT
//! The Linux guest that xen-thin-dm serves over virtio: a small kernel
//! built from the same 6.12 source as dom0's (`tests/linux-guest/kernel.config`
//! on tinyconfig, gcc, no modules), the linuxboot firmware that boots it
//! (`tests/guests/linuxboot.c`, the kernel linked in, the command line
//! naming the board's virtio-mmio slot), and its root disk: an ext4 image
//! made by `mkfs.ext4 -d` from Debian's static busybox, the test's `init`
//! and the hostile guest program (`tests/linux-guest/hostile.c`).

use std::path::{Path, PathBuf};

use crate::arch::Arch;
use crate::ctx::{Ctx, Key, Result};
use crate::linux::{self, Source};
use crate::sh::cmd;
use crate::xen::Dist;

/// The built guest.
pub struct LinuxGuest {
    /// `linuxboot.elf`: HVM firmware with the kernel inside.
    pub firmware: PathBuf,
    /// The same kernel with the benchmark's command line ([`bench_cmdline`]).
    pub bench_firmware: PathBuf,
    /// The kernel itself, for Debian's QEMU to boot (the benchmark's reference).
    pub bzimage: PathBuf,
    /// A file holding [`BENCH_CMDLINE`], the line QEMU boots it with.
    pub bench_cmdline: PathBuf,
    /// `disk.img`: the pristine root disk (the suite copies it).
    pub disk: PathBuf,
}

/// The disk's size: room for the test's writes, small in the initramfs.
const DISK_MIB: u32 = 24;

/// The busybox applets the guest's `init` uses.
const APPLETS: &[&str] = &[
    "sh", "mount", "echo", "cat", "grep", "cut", "mkdir", "sync", "dd", "md5sum", "rm", "sleep",
    "uname", "printf", "ls", "poweroff", "od", "wc", "head",
];

/// The board's virtio-mmio slot of the hostile guest's disk: xen-thin-dm
/// serves it (the suite's second `--virtio-blk`), but the kernel is not
/// told about it, so only `bin/hostile` drives it.
pub const HOSTILE_SLOT: usize = 1;
/// Guest RAM the kernel command line reserves (`memmap=`) for the hostile
/// program's rings and buffers, at a guest-physical address it knows.
const HOSTILE_RAM: u64 = 0x600_0000;
/// Its size.
const HOSTILE_RAM_SIZE: &str = "1M";

/// The guest kernel's command line: its console, its root on the first
/// virtio-mmio slot of xen-thin-dm's board, the console and the rng on the
/// two after the hostile disk's (the order xen-thin-dm gives them: disks,
/// console, rng), and the hostile program's reserved RAM.
pub fn cmdline() -> String {
    format!(
        "console=ttyS0,115200 earlyprintk=serial,ttyS0,115200 root=/dev/vda rw rootfstype=ext4 \
         init=/init panic=-1 nokaslr memmap={HOSTILE_RAM_SIZE}${HOSTILE_RAM:#x} {}",
        mmio_slots([0, HOSTILE_SLOT + 1, HOSTILE_SLOT + 2])
    )
}

/// The kernel arguments naming the board's virtio-mmio slots `slots`.
fn mmio_slots(slots: impl IntoIterator<Item = usize>) -> String {
    slots
        .into_iter()
        .map(|n| {
            let (base, irq) =
                xen_thin_dm::board::virtio_mmio_slot(n).expect("the board has 4 slots");
            xen_thin_dm::virtio::mmio_kernel_arg(base, irq)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The command line the benchmark boots xen-thin-dm's guest with: its root
/// and the raw disk `blkbench` measures (`/dev/vdb`) on the first two slots,
/// no console or rng (`bench-virtio` in the suites gives Debian's QEMU the
/// same line, with the disks on virtio-pci).
pub fn bench_cmdline() -> String {
    format!("{BENCH_CMDLINE} {}", mmio_slots(0..2))
}

/// What both device models' benchmark guests are told.
pub const BENCH_CMDLINE: &str = "console=ttyS0,115200 root=/dev/vda rw rootfstype=ext4 \
     init=/init panic=-1 nokaslr xdm.bench=vdb";

/// The compiler's definitions for `tests/linux-guest/hostile.c`.
fn hostile_defines() -> Vec<String> {
    let (base, _) =
        xen_thin_dm::board::virtio_mmio_slot(HOSTILE_SLOT).expect("the board has 4 slots");
    vec![
        format!("-DSLOT={base:#x}ull"),
        format!("-DRAM={HOSTILE_RAM:#x}ull"),
    ]
}

/// Builds (or takes from the cache) the kernel, the firmware and the disk.
pub fn build(ctx: &Ctx, src: &Source, dist: &Dist) -> Result<LinuxGuest> {
    let bzimage = kernel(ctx, src)?;
    let bench_firmware = firmware(ctx, &bzimage, "linuxboot-bench", &bench_cmdline())?;
    let disk = disk(ctx, dist)?;
    let bench_cmdline = ctx.cache.join("linuxboot-bench/cmdline");
    std::fs::create_dir_all(ctx.cache.join("linuxboot-bench"))?;
    std::fs::write(&bench_cmdline, BENCH_CMDLINE)?;
    Ok(LinuxGuest {
        bench_cmdline,
        firmware: firmware(ctx, &bzimage, "linuxboot", &cmdline())?,
        bench_firmware,
        bzimage,
        disk,
    })
}

fn kernel(ctx: &Ctx, src: &Source) -> Result<PathBuf> {
    let fragment = ctx.root.join("tests/linux-guest/kernel.config");
    let key = Key::new("guest-kernel")
        .str(&src.version)
        .file(&fragment)?
        .str(&cmd("gcc").arg("--version").read()?)
        .finish();
    let dir = ctx.cache.join("guest-kernel").join(&key);
    let build = dir.join("build");
    let log = ctx.log("guest-kernel.log");
    ctx.step(
        "guest: the virtio guest's Linux kernel (tinyconfig + fragment)",
        || {
            let built = ctx.cached(&dir, &key, |_| {
                let _ = std::fs::remove_file(&log);
                linux::configure(src, &build, std::slice::from_ref(&fragment), &[], &log)?;
                linux::make_in(src, &build, &[], &["-j", &linux::jobs(), "bzImage"])
                    .run_logged(&log, "building the guest kernel")?;
                Ok(())
            })?;
            Ok(if built {
                format!("built ({key})")
            } else {
                format!("cached ({key})")
            })
        },
    )?;
    Ok(build.join("arch/x86/boot/bzImage"))
}

fn firmware(ctx: &Ctx, bzimage: &Path, name: &str, line: &str) -> Result<PathBuf> {
    let src = ctx.root.join("tests/guests");
    let key = Key::new("linuxboot")
        .file(&src.join("linuxboot.c"))?
        .file(&src.join("linuxboot.S"))?
        .file(&src.join("start.S"))?
        .file(&src.join("guest.ld"))?
        .file(bzimage)?
        .str(line)
        .str(&cmd("gcc").arg("--version").read()?)
        .finish();
    let dir = ctx.cache.join(name).join(&key);
    let elf = dir.join("linuxboot.elf");
    ctx.step(
        &format!("guest: the {name} firmware (the guest kernel linked in)"),
        || {
            let built = ctx.cached(&dir, &key, |_| {
                cmd("gcc")
                    .args([
                        "-m32",
                        "-ffreestanding",
                        "-fno-pic",
                        "-fno-stack-protector",
                        "-fno-asynchronous-unwind-tables",
                        "-O2",
                        "-Wall",
                        "-Wextra",
                        "-Werror",
                        "-nostdlib",
                        "-static",
                        "-no-pie",
                        "-Wl,-T,guest.ld",
                        "-Wl,--build-id=none",
                        "-Wl,--no-warn-rwx-segments",
                    ])
                    .arg(format!("-DKERNEL_IMAGE=\"{}\"", bzimage.display()))
                    .arg(format!("-DLINUX_CMDLINE=\"{line}\""))
                    .arg("-o")
                    .arg(&elf)
                    .args(["start.S", "linuxboot.c", "linuxboot.S"])
                    .dir(&src)
                    .run_logged(
                        &ctx.log(&format!("{name}.log")),
                        "compiling the linuxboot firmware",
                    )?;
                Ok(())
            })?;
            Ok(if built {
                "built".into()
            } else {
                "cached".into()
            })
        },
    )?;
    Ok(elf)
}

fn disk(ctx: &Ctx, dist: &Dist) -> Result<PathBuf> {
    disk_for(ctx, dist, Arch::X86_64)
}

/// The root disk of the virtio guest on Arm: the same `init` (told by
/// `xdm.arm` on its command line to check the disk only), with `dist`'s
/// arm64 busybox and none of the x86 guest's own programs.
pub fn arm64_disk(ctx: &Ctx, dist: &Dist) -> Result<PathBuf> {
    disk_for(ctx, dist, Arch::Arm64)
}

fn disk_for(ctx: &Ctx, dist: &Dist, arch: Arch) -> Result<PathBuf> {
    let init = ctx.root.join("tests/linux-guest/init");
    let hostile = ctx.root.join("tests/linux-guest/hostile.c");
    let blkbench = ctx.root.join("tests/linux-guest/blkbench.c");
    let busybox = dist.root.join("bin/busybox");
    // The x86 guest's programs are compiled by the host's gcc.
    let programs = arch == Arch::X86_64;
    let key = Key::new("guest-disk")
        .str(arch.name())
        .file(&init)?
        .file(&hostile)?
        .file(&blkbench)?
        .str(&hostile_defines().join(" "))
        .str(&cmd("gcc").arg("--version").read()?)
        .file(&busybox)?
        .str(&APPLETS.join(" "))
        .str(&DISK_MIB.to_string())
        .str(&cmd("mkfs.ext4").arg("-V").read().unwrap_or_default())
        .finish();
    let dir = ctx.cache.join("guest-disk").join(&key);
    let img = dir.join("disk.img");
    ctx.step(
        &format!(
            "guest: the virtio guest's root disk ({}: ext4, busybox, init)",
            arch.name()
        ),
        || {
            let built = ctx.cached(&dir, &key, |dir| {
                let root = dir.join("root");
                for d in ["bin", "proc", "sys", "dev", "data", "tmp"] {
                    std::fs::create_dir_all(root.join(d))?;
                }
                std::fs::copy(&busybox, root.join("bin/busybox"))?;
                for a in APPLETS {
                    std::os::unix::fs::symlink("busybox", root.join("bin").join(a))?;
                }
                std::fs::copy(&init, root.join("init"))?;
                // The guest's own programs: static, warnings are errors.
                for (src, defines, bin) in [
                    (&hostile, hostile_defines(), "bin/hostile"),
                    (&blkbench, Vec::new(), "bin/blkbench"),
                ]
                .into_iter()
                .filter(|_| programs)
                {
                    cmd("gcc")
                        .args(["-static", "-O2", "-Wall", "-Wextra", "-Werror"])
                        .args(defines)
                        .arg("-o")
                        .arg(root.join(bin))
                        .arg(src)
                        .run_logged(&ctx.log("guest-disk.log"), "compiling the guest's programs")?;
                }
                cmd("mkfs.ext4")
                    .args(["-q", "-F", "-L", "xdm-guest", "-E", "root_owner=0:0", "-d"])
                    .arg(&root)
                    .arg(&img)
                    .arg(format!("{DISK_MIB}M"))
                    .run_logged(&ctx.log("guest-disk.log"), "mkfs.ext4 of the guest's root")?;
                std::fs::remove_dir_all(&root)?;
                Ok(())
            })?;
            Ok(if built {
                "built".into()
            } else {
                "cached".into()
            })
        },
    )?;
    Ok(img)
}
