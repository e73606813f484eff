// SPDX-License-Identifier: MIT
//! The test-bed contract: what the host's xtask and the suites in dom0
//! must agree on. xtask builds the dom0 image from these paths and runs
//! suites by these names; the suites find their programs, modules and
//! guests there. The device model's own contract (its uid base, its empty
//! root) is in `xen_thin_dm::cli::UID_BASE` and
//! `xen_thin_dm::depriv::EMPTY_ROOT`, which the suites read as well.

/// Every suite `xdm-suite` runs (and `cargo xtask vm --suite` accepts).
pub const SUITES: &[&str] = &[
    "xen-smoke",
    "library",
    "privcmd",
    "devicemodel",
    "virtio",
    "xen-patches",
    "xen-guard-retired",
    "demo-testbed",
    "demo-patched",
    "demo-arm64",
    "bench-privcmd",
    "bench-dm",
    "bench-eventfd",
    "bench-virtio",
    "harness-fail",
];

/// Suites that are scripts (`tests/dom0/suites`, in the image as
/// `/suites/NAME`), run by dom0's init instead of `xdm-suite`.
pub const SCRIPT_SUITES: &[&str] = &["harness-hang"];

/// The project's programs in dom0.
pub const LIBEXEC: &str = "/usr/libexec/xdm";
/// xen-thin-dm.
pub const THIN_DM: &str = "/usr/libexec/xdm/xen-thin-dm";
/// xen-thin-dm-backend, the Arm daemon.
pub const THIN_DM_BACKEND: &str = "/usr/libexec/xdm/xen-thin-dm-backend";
/// The C twin of `dmcheck-rs` (tests/dom0/c, built against libxendevicemodel).
pub const DMCHECK: &str = "/usr/libexec/xdm/dmcheck";
/// A domain with a given id, through libxenctrl (tests/dom0/c; in the
/// images of releases built for their own libraries: the arm64 bed).
pub const RAWDOM: &str = "/usr/libexec/xdm/rawdom";
/// The placeholder device model of guests served by none.
pub const FAKE_DM: &str = "/usr/libexec/xdm/fake-dm";
/// Where the drop-in `libxendevicemodel.so.1` is (not on the loader's path).
pub const OUR_LIB_DIR: &str = "/usr/lib/xdm-rs";
/// The privcmd-restrict module.
pub const MODULE: &str = "/lib/xdm/privcmd_restrict.ko";
/// Its KUnit test module.
pub const KUNIT_MODULE: &str = "/lib/xdm/privcmd_restrict_kunit.ko";
/// The bare-hypercall benchmark module.
pub const HCBENCH_MODULE: &str = "/lib/xdm/privcmd_restrict_hcbench.ko";
/// The x86 test guest (HVM firmware).
pub const TEST_GUEST: &str = "/guests/testguest.elf";
/// The x86 benchmark guest.
pub const BENCH_GUEST: &str = "/guests/benchguest.elf";
/// The x86 Linux guest's firmware (the Linux boot protocol).
pub const LINUXBOOT: &str = "/guests/linuxboot.elf";
/// The same for the benchmarks' Linux guest.
pub const LINUXBOOT_BENCH: &str = "/guests/linuxboot-bench.elf";
/// The x86 Linux guest's kernel (the benchmarks boot it with their own firmware).
pub const LINUX_GUEST: &str = "/guests/linux-guest.bzImage";
/// The benchmarks' Linux command line.
pub const LINUX_BENCH_CMDLINE: &str = "/guests/linux-bench.cmdline";
/// The x86 Linux guest's disk.
pub const LINUX_DISK: &str = "/guests/linux-disk.img";
/// The arm64 guest's kernel (dom0's).
pub const ARM64_GUEST: &str = "/guests/arm64-guest.Image";
/// The arm64 Linux guest's disk.
pub const LINUX_DISK_ARM64: &str = "/guests/linux-disk-arm64.img";

#[cfg(test)]
mod tests {
    /// The programs sit where the image puts `tests/dom0/c`'s (LIBEXEC/name).
    #[test]
    fn programs_are_in_libexec() {
        for p in [
            super::THIN_DM,
            super::THIN_DM_BACKEND,
            super::FAKE_DM,
            super::DMCHECK,
            super::RAWDOM,
        ] {
            assert_eq!(
                std::path::Path::new(p).parent(),
                Some(std::path::Path::new(super::LIBEXEC)),
                "{p}"
            );
        }
    }
}
