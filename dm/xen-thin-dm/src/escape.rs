// SPDX-License-Identifier: MIT
//! The escape self-test: what an attacker who took over the device model
//! would try next, attempted from inside the deprivileged process. Every
//! attempt must fail; the table says with which errno, both before the
//! seccomp filter is installed (what the restricted descriptors, the
//! chroot, the namespaces, the limits and the uid stop on their own) and
//! after it (the final state, which is what counts).

use std::ffi::CStr;

use dmop_abi::privcmd::{self, PrivcmdHypercall, PrivcmdMmapResource};
use dmop_abi::types::{DomId, EvtchnPort};
use dmop_abi::xenmem::ResourceType;
use xendevicemodel::{errno_name, DeviceModel, EventChannel, ForeignMapping};

use crate::forwarder::Forwarder;

/// One attempt and how it ended.
#[derive(Debug)]
pub struct Attempt {
    /// What was tried.
    pub what: String,
    /// `Err(errno)` if refused, `Ok(detail)` if it worked.
    pub result: Result<String, i32>,
}

fn last() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn c(r: libc::c_long) -> Result<String, i32> {
    if r < 0 {
        Err(last())
    } else {
        Ok(format!("returned {r}"))
    }
}

/// A descriptor-returning call: closes what it got.
fn fd(r: libc::c_int) -> Result<String, i32> {
    if r < 0 {
        return Err(last());
    }
    // SAFETY: a descriptor this function just got and owns.
    unsafe { libc::close(r) };
    Ok(format!("got descriptor {r}"))
}

fn open(path: &CStr, flags: libc::c_int) -> Result<String, i32> {
    // SAFETY: a valid path.
    fd(unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC, 0o644) })
}

fn xs_errno(e: xenstore_client::Error) -> i32 {
    match e {
        xenstore_client::Error::Io(_, io) => io.raw_os_error().unwrap_or(libc::EIO),
        xenstore_client::Error::Xenstore(_, name) => match name.as_str() {
            "EACCES" => libc::EACCES,
            "EPERM" => libc::EPERM,
            "ENOENT" => libc::ENOENT,
            "EINVAL" => libc::EINVAL,
            "E2BIG" => libc::E2BIG,
            "ENOSYS" => libc::ENOSYS,
            _ => libc::EIO,
        },
        xenstore_client::Error::Protocol(..) => libc::EPROTO,
        _ => libc::EIO,
    }
}

/// Tries every escape; `other` is another guest's domain and `other_pid`
/// its device model's process, if known; `kept` the xenstore forwarder the
/// device model kept, if any; `disks` the paths of the disks it serves
/// (opened before deprivileging: re-opening one, or a sibling, must fail);
/// `largest_disk` the largest one's descriptor and an offset past both its
/// end and `RLIMIT_FSIZE` (writing there must fail); `log_limit` the
/// `--max-file-size` its log is bounded by (writing its log there must
/// fail: the log file is the logger's, not its own).
#[allow(clippy::too_many_arguments)]
pub fn attempts(
    dm: &DeviceModel,
    ev: &EventChannel,
    other: DomId,
    other_pid: Option<u32>,
    kept: Option<&mut Forwarder>,
    disks: &[std::path::PathBuf],
    largest_disk: Option<(i32, u64)>,
    log_limit: u64,
) -> Vec<Attempt> {
    let mut v = Vec::new();
    let mut t = |what: String, result: Result<String, i32>| v.push(Attempt { what, result });
    let pfd = dm.raw_fd().unwrap_or(-1);
    let o = other.0;
    t(
        "DM_OP on dom0 (nr_vcpus)".into(),
        dm.nr_vcpus(DomId(0))
            .map(|n| format!("{n} vCPUs"))
            .map_err(|e| e.errno()),
    );
    t(
        format!("DM_OP on another guest, d{o} (nr_vcpus)"),
        dm.nr_vcpus(other)
            .map(|n| format!("{n} vCPUs"))
            .map_err(|e| e.errno()),
    );
    t(
        format!("DM_OP create_ioreq_server on another guest, d{o}"),
        dm.create_ioreq_server(other, dmop_abi::dmop::BufioreqMode::OFF)
            .map(|id| {
                let _ = dm.destroy_ioreq_server(other, id);
                format!("created server {} (destroyed again)", id.0)
            })
            .map_err(|e| e.errno()),
    );
    let mut h = PrivcmdHypercall {
        op: 17,
        ..PrivcmdHypercall::ZEROED
    }; // xen_version
       // SAFETY: the hypercall struct the kernel reads.
    t(
        "raw HYPERCALL (xen_version)".into(),
        c(
            unsafe { libc::ioctl(pfd, privcmd::IOCTL_PRIVCMD_HYPERCALL as libc::Ioctl, &mut h) }
                .into(),
        ),
    );
    let mut r = PrivcmdMmapResource {
        dom: other,
        r#type: u32::from(ResourceType::IOREQ_SERVER.0),
        ..PrivcmdMmapResource::ZEROED
    };
    // SAFETY: the struct the kernel reads (a size query: no address).
    t(
        format!("MMAP_RESOURCE of another guest, d{o}"),
        c(unsafe {
            libc::ioctl(
                pfd,
                privcmd::IOCTL_PRIVCMD_MMAP_RESOURCE as libc::Ioctl,
                &mut r,
            )
        }
        .into()),
    );
    t(
        "MMAPBATCH_V2 of dom0's memory".into(),
        ForeignMapping::map(dm, DomId(0), &[0x100])
            .map(|_| "mapped".into())
            .map_err(|e| e.errno()),
    );
    t(
        format!("MMAPBATCH_V2 of another guest's memory, d{o}"),
        ForeignMapping::map(dm, other, &[0x100])
            .map(|_| "mapped".into())
            .map_err(|e| e.errno()),
    );
    t(
        "bind an event channel of dom0".into(),
        ev.bind_interdomain(DomId(0), EvtchnPort(1))
            .map(|p| format!("port {}", p.0))
            .map_err(|e| e.errno()),
    );
    for path in [
        c"/dev/xen/privcmd",
        c"/dev/xen/privcmd-restrict",
        c"/dev/xen/evtchn",
    ] {
        t(
            format!("re-open {}", path.to_string_lossy()),
            open(path, libc::O_RDWR),
        );
    }
    for d in disks {
        let Ok(p) = std::ffi::CString::new(d.as_os_str().as_encoded_bytes()) else {
            continue;
        };
        t(
            format!("re-open its disk by path ({})", d.display()),
            open(&p, libc::O_RDWR),
        );
        if let Some(Ok(sib)) = d.parent().map(|dir| {
            std::ffi::CString::new(
                dir.join("xen-thin-dm-escaped")
                    .into_os_string()
                    .into_encoded_bytes(),
            )
        }) {
            t(
                "create a file beside its disk".into(),
                open(&sib, libc::O_WRONLY | libc::O_CREAT),
            );
        }
    }
    if let Some((fd, len)) = largest_disk {
        // One byte past the disk's end and past RLIMIT_FSIZE (`len` is the
        // larger), through the descriptor it serves the guest with: refused
        // by the limit (or the block device's end) before the seccomp
        // filter, by the filter's bounds after; nothing is written either way.
        let at = libc::off_t::try_from(len).unwrap_or(libc::off_t::MAX);
        // SAFETY: a one-byte write from a static buffer to our descriptor.
        let r = unsafe { libc::pwrite(fd, b"x".as_ptr().cast(), 1, at) };
        t(
            format!("write past the end of its disk (byte {len})"),
            c(r as libc::c_long),
        );
    }
    // Its log, one byte past --max-file-size, through stdout. With a file
    // disk larger than that limit, RLIMIT_FSIZE is the disk's size: were
    // stdout the log file itself, this would grow it. It is a pipe to the
    // logger (no offset: ESPIPE), and pwrite64 is for the disks only once
    // the filter is on.
    let at = libc::off_t::try_from(log_limit).unwrap_or(libc::off_t::MAX);
    // SAFETY: a one-byte write from a static buffer to our stdout.
    let r = unsafe { libc::pwrite(1, b"x".as_ptr().cast(), 1, at) };
    t(
        format!("write its log past --max-file-size (byte {log_limit})"),
        c(r as libc::c_long),
    );
    t(
        "write a file outside the chroot (/tmp)".into(),
        open(c"/tmp/xen-thin-dm-escaped", libc::O_WRONLY | libc::O_CREAT),
    );
    t(
        "write a file in the chroot (/escaped)".into(),
        open(c"/escaped", libc::O_WRONLY | libc::O_CREAT),
    );
    // SAFETY: signal 0: the permission check only.
    t(
        "signal init (kill -0 1)".into(),
        c(unsafe { libc::kill(1, 0) }.into()),
    );
    if let Some(pid) = other_pid {
        let pid = pid as libc::pid_t;
        // SAFETY: signal 0: the permission check only, nothing is delivered.
        t(
            format!("signal d{o}'s device model (kill -0 {pid})"),
            c(unsafe { libc::kill(pid, 0) }.into()),
        );
        // SAFETY: PTRACE_ATTACH takes no addresses; a success is undone at once.
        let r = unsafe { libc::ptrace(libc::PTRACE_ATTACH, pid, 0, 0) };
        if r == 0 {
            // SAFETY: as above.
            unsafe { libc::ptrace(libc::PTRACE_DETACH, pid, 0, 0) };
        }
        t(format!("ptrace d{o}'s device model"), c(r));
    }
    for (name, dom) in [("AF_UNIX", libc::AF_UNIX), ("AF_INET", libc::AF_INET)] {
        // SAFETY: socket creation.
        t(
            format!("open a socket ({name})"),
            fd(unsafe { libc::socket(dom, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) }),
        );
    }
    t(
        "reach xenstore (socket or /dev/xen/xenbus)".into(),
        xenstore_client::Xenstore::open()
            .map(|_| "connected".into())
            .map_err(xs_errno),
    );
    if let Some(Forwarder { pid, client: xs }) = kept {
        // The forwarder holds a privileged connection to xenstored: taking
        // it over would undo the restriction. Same uid, so the checks
        // that stop this are its non-dumpable flag and seccomp.
        let pid = *pid;
        // SAFETY: PTRACE_ATTACH takes no addresses; a success is undone at once.
        let r = unsafe { libc::ptrace(libc::PTRACE_ATTACH, pid, 0, 0) };
        if r == 0 {
            // SAFETY: as above.
            unsafe { libc::ptrace(libc::PTRACE_DETACH, pid, 0, 0) };
        }
        t(format!("ptrace its own xenstore forwarder ({pid})"), c(r));
        t(
            format!("open the forwarder's memory (/proc/{pid}/mem)"),
            open(
                &std::ffi::CString::new(format!("/proc/{pid}/mem")).unwrap_or_default(),
                libc::O_RDWR,
            ),
        );
        let v = |r: Result<Vec<u8>, xenstore_client::Error>| {
            r.map(|b| format!("read {:?}", String::from_utf8_lossy(&b)))
                .map_err(xs_errno)
        };
        t(
            "kept xenstore: read dom0's /local/domain/0/name".into(),
            v(xs.read("/local/domain/0/name")),
        );
        t(
            format!("kept xenstore: write d{o}'s /local/domain/{o}/data/escaped"),
            xs.write(&format!("/local/domain/{o}/data/escaped"), b"1")
                .map(|_| "written".into())
                .map_err(xs_errno),
        );
        t(
            "kept xenstore: write /tool/escaped".into(),
            xs.write("/tool/escaped", b"1")
                .map(|_| "written".into())
                .map_err(xs_errno),
        );
        t(
            "kept xenstore: a watch on / (not a node request)".into(),
            xs.request("watch", dmop_abi::xs_wire::XsMsgType::WATCH, 0, b"/\0tok\0")
                .map(|_| "watching".into())
                .map_err(xs_errno),
        );
        t(
            format!("kept xenstore: XS_INTRODUCE d{o}"),
            xs.request(
                "introduce",
                dmop_abi::xs_wire::XsMsgType::INTRODUCE,
                0,
                format!("{o}\x001\x001\x00").as_bytes(),
            )
            .map(|_| "introduced".into())
            .map_err(xs_errno),
        );
    }
    // SAFETY: credential call.
    t(
        "regain root (setuid 0)".into(),
        c(unsafe { libc::setuid(0) }.into()),
    );
    // SAFETY: fork; a child that got through leaves at once.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: leave the child immediately.
        unsafe { libc::_exit(0) };
    }
    t("start a process (fork)".into(), c(pid.into()));
    let sh = c"/bin/sh";
    let argv = [sh.as_ptr(), std::ptr::null()];
    // SAFETY: a valid argv; success would replace the process (and fail the test).
    t(
        "run a program (/bin/sh)".into(),
        c(unsafe { libc::execv(sh.as_ptr(), argv.as_ptr()) }.into()),
    );
    v
}

fn cell(r: &Result<String, i32>) -> String {
    match r {
        Err(e) => format!("refused {}", errno_name(*e)),
        Ok(d) => format!("ALLOWED ({d})"),
    }
}

/// Prints the table of the attempts made before the seccomp filter
/// (`before`, may be empty) and after every step (`after`); returns
/// whether every attempt of `after` was refused.
pub fn report(other: DomId, before: &[Attempt], after: &[Attempt]) -> bool {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "xen-thin-dm: escape attempts from inside the deprivileged device model"
    );
    let _ = writeln!(
        out,
        "xen-thin-dm: (another guest for the test: d{}; errno names as in errno.h)",
        other.0
    );
    let _ = writeln!(
        out,
        "  {:<54} {:<28} fully deprivileged",
        "attempt", "before seccomp"
    );
    let mut all = true;
    for (i, a) in after.iter().enumerate() {
        let b = before
            .get(i)
            .filter(|b| b.what == a.what)
            .map_or_else(|| "-".to_string(), |b| cell(&b.result));
        all &= a.result.is_err();
        let verdict = if a.result.is_err() {
            String::new()
        } else {
            "   <-- ESCAPED".into()
        };
        let _ = writeln!(
            out,
            "  {:<54} {:<28} {}{verdict}",
            a.what,
            b,
            cell(&a.result)
        );
    }
    let _ = writeln!(
        out,
        "xen-thin-dm: escape attempts: {} of {} refused{}",
        after.iter().filter(|a| a.result.is_err()).count(),
        after.len(),
        if all { "" } else { " -- DEPRIVILEGE FAILED" }
    );
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_allowed_attempt_fails_the_report() {
        let a = |r| Attempt {
            what: "x".into(),
            result: r,
        };
        assert!(report(
            DomId(2),
            &[],
            &[a(Err(libc::EPERM)), a(Err(libc::EACCES))]
        ));
        assert!(!report(
            DomId(2),
            &[a(Err(libc::EPERM))],
            &[a(Err(libc::EPERM)), a(Ok("got it".into()))]
        ));
        assert_eq!(cell(&Err(libc::ENOENT)), "refused ENOENT");
    }
}
