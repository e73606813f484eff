// SPDX-License-Identifier: MIT
//! Deprivileging, fail-closed: every step is applied and checked, and the
//! first that cannot be applied stops the device model with its name.
//!
//! In order: restrict every privcmd and evtchn descriptor to the guest; an
//! empty root directory; new mount, IPC and network namespaces (and a user
//! namespace when started unprivileged); chroot there; resource limits
//! (file size small, core dumps, processes and locked memory zero); drop to
//! the device model's uid and gid (or, unprivileged, every capability); no
//! new privileges; a seccomp allow-list of the system calls the request
//! loop makes, with ioctls allowed by command.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::path::{Path, PathBuf};

use dmop_abi::types::DomId;
use dmop_abi::{evtchn, privcmd};
use seccompiler::{
    SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule,
    TargetArch,
};

/// How to deprivilege.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The guest.
    pub domid: DomId,
    /// uid to become (started as root).
    pub uid: u32,
    /// gid to become (started as root).
    pub gid: u32,
    /// Started as root (else: already the device model's uid, through restrict-at-open).
    pub as_root: bool,
    /// `RLIMIT_FSIZE`, in bytes.
    pub max_file_size: u64,
    /// Whose system calls the seccomp allow-list admits.
    pub profile: Profile,
    /// Descriptors the process may hold besides stdio and the restricted
    /// privcmd and evtchn ones (a signalfd, a log, a socket...): any other
    /// open descriptor fails the deprivileging.
    pub known_fds: Vec<i32>,
    /// The disks ([`Profile::DeviceModelWithDisk`]): the seccomp filter
    /// lets the process write each only within its size.
    pub disks: Vec<DiskBound>,
}

/// A disk the device model serves, as its seccomp filter bounds it: no
/// `pwrite64` on `fd` reaches past `len` (whatever `RLIMIT_FSIZE` allows,
/// which is one limit for every file), no plain `write` reaches it at all,
/// and a read-only disk gets no `pwrite64`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskBound {
    /// Its descriptor.
    pub fd: i32,
    /// Its usable size in bytes.
    pub len: u64,
    /// Whether the guest may write it.
    pub writable: bool,
}

/// The largest write to a disk the filter lets through at once, anywhere
/// up to `len - WRITE_CHUNK`. The filter admits each power of two up to it
/// (a write of at most 2^k bytes at an offset of at most `len - 2^k`), so
/// any write within the disk goes in at most 21 pieces.
/// [`disk_write_limit`] says how much the filter admits at an offset.
pub const WRITE_CHUNK: u64 = 1 << 20;

/// The write sizes the filter admits: the powers of two up to [`WRITE_CHUNK`].
fn write_sizes() -> impl Iterator<Item = u64> {
    (0..=WRITE_CHUNK.trailing_zeros()).rev().map(|k| 1u64 << k)
}

/// The most one `pwrite64` at byte `off` of a disk of `len` bytes may
/// write under the filter: the largest power of two up to [`WRITE_CHUNK`]
/// that ends within the disk; 0 at or past its end.
///
/// ```
/// use xen_thin_dm::depriv::disk_write_limit;
/// let mib = 1 << 20;
/// assert_eq!(disk_write_limit(0, 4 * mib), mib);
/// assert_eq!(disk_write_limit(3 * mib + 512, 4 * mib), 512 << 10);
/// assert_eq!(disk_write_limit(4 * mib - 100, 4 * mib), 64);
/// assert_eq!(disk_write_limit(4 * mib - 1, 4 * mib), 1);
/// assert_eq!(disk_write_limit(4 * mib, 4 * mib), 0);
/// ```
pub fn disk_write_limit(off: u64, len: u64) -> u64 {
    write_sizes()
        .find(|&n| len.checked_sub(n).is_some_and(|last| off <= last))
        .unwrap_or(0)
}

/// Which process is deprivileged: the seccomp allow-list differs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// The device model's request loop ([`COMMON_SYSCALLS`],
    /// [`DEVICE_MODEL_SYSCALLS`], [`ALLOWED_IOCTLS`]).
    DeviceModel,
    /// The request loop of a device model with a disk: [`DeviceModel`](Self::DeviceModel)
    /// and [`DISK_SYSCALLS`].
    DeviceModelWithDisk,
    /// The xenstore forwarder ([`COMMON_SYSCALLS`] only, no ioctl).
    XenstoreForwarder,
    /// The logger ([`COMMON_SYSCALLS`] and [`LOGGER_SYSCALLS`], no ioctl).
    Logger,
}

/// A step that could not be applied.
#[derive(Debug)]
pub struct Failure {
    /// The step.
    pub step: &'static str,
    /// Why.
    pub error: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "deprivilege step \"{}\" failed: {}",
            self.step, self.error
        )
    }
}

fn os_err(what: &str) -> String {
    format!("{what}: {}", std::io::Error::last_os_error())
}

fn check(r: libc::c_int, what: &str) -> Result<(), String> {
    if r < 0 {
        Err(os_err(what))
    } else {
        Ok(())
    }
}

/// The steps, by name, in the order they are applied.
pub const STEPS: &[&str] = &[
    "restrict privcmd and evtchn to the guest",
    "no other descriptors",
    "empty root directory",
    "unshare mount, IPC and network namespaces",
    "chroot to the empty directory",
    "resource limits",
    "drop privileges",
    "no new privileges",
    "seccomp allow-list",
];

/// Applies every step; returns a line per step done, or the first failure.
pub fn apply(plan: &Plan) -> Result<Vec<String>, Failure> {
    apply_with(plan, &mut || {})
}

/// [`apply`], calling `before_seccomp` after every other step (the escape
/// self-test uses it to show what the other layers stop on their own).
pub fn apply_with(plan: &Plan, before_seccomp: &mut dyn FnMut()) -> Result<Vec<String>, Failure> {
    let mut done = Vec::new();
    let mut step = |name: &'static str,
                    f: &mut dyn FnMut() -> Result<String, String>|
     -> Result<(), Failure> {
        match f() {
            Ok(detail) => {
                done.push(format!("{name}: {detail}"));
                Ok(())
            }
            Err(error) => Err(Failure { step: name, error }),
        }
    };
    let mut restricted = Vec::new();
    step(
        STEPS[0],
        &mut || match xendevicemodel::restrict_all(plan.domid) {
            Ok(r) => {
                restricted = r.handles.iter().map(|h| h.2).collect();
                Ok(format!(
                    "{} descriptors confined to domain {}",
                    r.handles.len(),
                    plan.domid.0
                ))
            }
            Err(e) => Err(e.to_string()),
        },
    )?;
    step(STEPS[1], &mut || {
        no_unknown_fds(&restricted, &plan.known_fds)
    })?;
    let mut root = Root::Dir(PathBuf::new());
    step(STEPS[2], &mut || {
        root = empty_root(plan)?;
        Ok(match &root {
            Root::Dir(d) => format!("{} (root's, mode 0555, empty)", d.display()),
            Root::Tmpfs(d) => format!(
                "a read-only tmpfs over {}, in the private mount namespace",
                d.display()
            ),
        })
    })?;
    step(STEPS[3], &mut || {
        let mut flags = libc::CLONE_NEWNS | libc::CLONE_NEWIPC | libc::CLONE_NEWNET;
        if !plan.as_root {
            flags |= libc::CLONE_NEWUSER;
        }
        // SAFETY: unshare has no memory preconditions.
        check(unsafe { libc::unshare(flags) }, "unshare")?;
        // Nothing mounted from here on may propagate back to dom0.
        check(
            // SAFETY: valid C strings; no data argument.
            unsafe {
                libc::mount(
                    std::ptr::null(),
                    c"/".as_ptr(),
                    std::ptr::null(),
                    libc::MS_REC | libc::MS_PRIVATE,
                    std::ptr::null(),
                )
            },
            "making mounts private",
        )?;
        Ok(if plan.as_root {
            "mount, IPC, network".into()
        } else {
            "user, mount, IPC, network".into()
        })
    })?;
    step(STEPS[4], &mut || {
        let dir = match &root {
            Root::Dir(d) => d,
            Root::Tmpfs(d) => {
                let c =
                    CString::new(d.as_os_str().as_encoded_bytes()).map_err(|e| e.to_string())?;
                let flags = libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
                check(
                    // SAFETY: valid NUL-terminated strings.
                    unsafe {
                        libc::mount(
                            c"xen-thin-dm".as_ptr(),
                            c.as_ptr(),
                            c"tmpfs".as_ptr(),
                            flags,
                            c"size=4k,mode=0555".as_ptr().cast(),
                        )
                    },
                    "mounting an empty tmpfs",
                )?;
                d
            }
        };
        let c = CString::new(dir.as_os_str().as_encoded_bytes()).map_err(|e| e.to_string())?;
        // SAFETY: valid C strings.
        check(unsafe { libc::chroot(c.as_ptr()) }, "chroot")?;
        // SAFETY: as above.
        check(unsafe { libc::chdir(c"/".as_ptr()) }, "chdir /")?;
        Ok(dir.display().to_string())
    })?;
    step(STEPS[5], &mut || {
        let set = |res: libc::__rlimit_resource_t, v: u64, name: &str| -> Result<(), String> {
            let l = libc::rlimit {
                rlim_cur: v,
                rlim_max: v,
            };
            // SAFETY: a valid rlimit struct.
            check(unsafe { libc::setrlimit(res, &l) }, name)
        };
        set(libc::RLIMIT_FSIZE, plan.max_file_size, "RLIMIT_FSIZE")?;
        set(libc::RLIMIT_CORE, 0, "RLIMIT_CORE")?;
        set(libc::RLIMIT_NPROC, 0, "RLIMIT_NPROC")?;
        set(libc::RLIMIT_MEMLOCK, 0, "RLIMIT_MEMLOCK")?;
        // A write past the size limit then fails with EFBIG instead of killing.
        // SAFETY: installing SIG_IGN.
        unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
        Ok(format!(
            "fsize {} bytes, core 0, nproc 0, memlock 0",
            plan.max_file_size
        ))
    })?;
    step(STEPS[6], &mut || {
        if plan.as_root {
            drop_ids(plan.uid, plan.gid)
        } else {
            drop_caps()
        }
    })?;
    step(STEPS[7], &mut || {
        check(
            // SAFETY: prctl with integer arguments.
            unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) },
            "PR_SET_NO_NEW_PRIVS",
        )?;
        check(
            // SAFETY: as above.
            unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) },
            "PR_SET_DUMPABLE",
        )?;
        Ok("set".into())
    })?;
    before_seccomp();
    step(STEPS[8], &mut || {
        let (prog, said) = seccomp_program(plan.profile, &plan.disks)?;
        seccompiler::apply_filter(&prog).map_err(|e| e.to_string())?;
        Ok(said)
    })?;
    Ok(done)
}

/// The seccomp filter of `profile` (with `disks` for a device model with
/// disks), and what it allows, in words.
pub fn seccomp_program(
    profile: Profile,
    disks: &[DiskBound],
) -> Result<(seccompiler::BpfProgram, String), String> {
    match profile {
        Profile::DeviceModel => seccomp(
            &[COMMON_SYSCALLS, DEVICE_MODEL_SYSCALLS],
            ALLOWED_IOCTLS,
            &[],
        ),
        Profile::DeviceModelWithDisk => seccomp(
            &[COMMON_SYSCALLS, DEVICE_MODEL_SYSCALLS, DISK_SYSCALLS],
            ALLOWED_IOCTLS,
            disks,
        ),
        Profile::XenstoreForwarder => seccomp(&[COMMON_SYSCALLS], &[], &[]),
        Profile::Logger => seccomp(&[COMMON_SYSCALLS, LOGGER_SYSCALLS], &[], &[]),
    }
}

/// The directory the device model is chrooted to.
enum Root {
    /// An existing empty directory, root's and read-only to others.
    Dir(PathBuf),
    /// A read-only, empty tmpfs mounted over this directory inside the
    /// private mount namespace (unprivileged, with no such directory).
    Tmpfs(PathBuf),
}

/// Where device models are chrooted: an empty directory, root's, mode 0555.
pub const EMPTY_ROOT: &str = "/run/xen-thin-dm/empty";

/// Creates [`EMPTY_ROOT`] (as root); fails if it holds anything.
pub fn prepare_empty_root() -> Result<PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    let d = Path::new(EMPTY_ROOT);
    std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o555))
        .map_err(|e| format!("{}: {e}", d.display()))?;
    check_empty_root(d)?;
    Ok(d.to_path_buf())
}

/// A directory is a safe root if root owns it, nobody else may write to it,
/// and it is empty.
fn check_empty_root(d: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(d).map_err(|e| format!("{}: {e}", d.display()))?;
    if !m.is_dir() || m.uid() != 0 || m.mode() & 0o022 != 0 {
        return Err(format!(
            "{} is not a directory of root's that only root may write to",
            d.display()
        ));
    }
    if std::fs::read_dir(d)
        .map_err(|e| format!("{}: {e}", d.display()))?
        .next()
        .is_some()
    {
        return Err(format!("{} is not empty", d.display()));
    }
    Ok(())
}

/// As root: [`EMPTY_ROOT`]. Unprivileged: [`EMPTY_ROOT`] if an
/// administrator made it, else a tmpfs over the temporary directory.
fn empty_root(plan: &Plan) -> Result<Root, String> {
    if plan.as_root {
        return prepare_empty_root().map(Root::Dir);
    }
    let d = Path::new(EMPTY_ROOT);
    if d.exists() {
        check_empty_root(d)?;
        return Ok(Root::Dir(d.to_path_buf()));
    }
    Ok(Root::Tmpfs(std::env::temp_dir()))
}

fn drop_ids(uid: u32, gid: u32) -> Result<String, String> {
    if uid == 0 || gid == 0 {
        return Err("refusing to run as uid or gid 0".into());
    }
    // SAFETY: plain credential calls.
    unsafe {
        check(libc::setgroups(0, std::ptr::null()), "setgroups")?;
        check(libc::setresgid(gid, gid, gid), "setresgid")?;
        check(libc::setresuid(uid, uid, uid), "setresuid")?;
    }
    let (mut r, mut e, mut s) = (0, 0, 0);
    // SAFETY: writes three uids.
    unsafe { libc::getresuid(&mut r, &mut e, &mut s) };
    if (r, e, s) != (uid, uid, uid) {
        return Err(format!("still uids {r}/{e}/{s}"));
    }
    // SAFETY: must fail now.
    if unsafe { libc::setuid(0) } == 0 {
        return Err("setuid(0) still works".into());
    }
    Ok(format!("uid {uid}, gid {gid}, no supplementary groups"))
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Fails if the process holds a descriptor that is neither stdio, nor one
/// of `restricted`, nor one of `known`.
fn no_unknown_fds(restricted: &[i32], known: &[i32]) -> Result<String, String> {
    let dir = std::fs::read_dir("/proc/self/fd").map_err(|e| format!("/proc/self/fd: {e}"))?;
    let mut held = Vec::new();
    for e in dir.flatten() {
        if let Some(fd) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) {
            held.push((
                fd,
                std::fs::read_link(e.path())
                    .map(|l| l.display().to_string())
                    .unwrap_or_default(),
            ));
        }
    }
    // The directory listing itself is the one descriptor that is gone now.
    let open: Vec<&(i32, String)> = held
        .iter()
        .filter(|(fd, _)| {
            // SAFETY: F_GETFD on a number: no memory involved.
            unsafe { libc::fcntl(*fd, libc::F_GETFD) >= 0 }
        })
        .collect();
    let unknown: Vec<String> = open
        .iter()
        .filter(|(fd, _)| *fd > 2 && !restricted.contains(fd) && !known.contains(fd))
        .map(|(fd, l)| format!("{fd} ({l})"))
        .collect();
    if !unknown.is_empty() {
        return Err(format!(
            "descriptors the device model does not know of are open: {}",
            unknown.join(", ")
        ));
    }
    Ok(format!("{} descriptors, each accounted for", open.len()))
}

fn drop_caps() -> Result<String, String> {
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    let hdr = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [CapData {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    check(
        // SAFETY: capset with a v3 header and two data words.
        unsafe { libc::syscall(libc::SYS_capset, &hdr, data.as_ptr()) as libc::c_int },
        "capset",
    )?;
    let (mut r, mut e, mut s) = (0, 0, 0);
    // SAFETY: writes three uids.
    unsafe { libc::getresuid(&mut r, &mut e, &mut s) };
    if r == 0 || e == 0 || s == 0 {
        return Err(format!("uids {r}/{e}/{s}: root, not an unprivileged start"));
    }
    Ok("every capability dropped (already unprivileged)".into())
}

fn rule_cmd(cmd: u32) -> SeccompRule {
    SeccompRule::new(vec![SeccompCondition::new(
        1,
        SeccompCmpArgLen::Dword,
        SeccompCmpOp::Eq,
        u64::from(cmd),
    )
    .expect("valid condition")])
    .expect("valid rule")
}

/// The ioctls the request loop issues after deprivileging.
pub const ALLOWED_IOCTLS: &[(&str, u32)] = &[
    ("IOCTL_PRIVCMD_DM_OP", privcmd::IOCTL_PRIVCMD_DM_OP),
    (
        "IOCTL_PRIVCMD_MMAPBATCH_V2",
        privcmd::IOCTL_PRIVCMD_MMAPBATCH_V2,
    ),
    ("IOCTL_EVTCHN_NOTIFY", evtchn::IOCTL_EVTCHN_NOTIFY),
];

/// The system calls both sandboxed processes make: moving bytes through
/// descriptors they already hold (Rust's sockets send and receive with
/// `sendto`/`recvfrom`; no socket can be created or connected any more, so
/// these reach only xenstored's before the first guest request and the
/// forwarder's pair), allocating, signals' return, exiting.
pub const COMMON_SYSCALLS: &[(&str, i64)] = &[
    ("read", libc::SYS_read),
    ("write", libc::SYS_write),
    ("sendto", libc::SYS_sendto),
    ("recvfrom", libc::SYS_recvfrom),
    ("mmap", libc::SYS_mmap),
    ("munmap", libc::SYS_munmap),
    ("mremap", libc::SYS_mremap),
    ("madvise", libc::SYS_madvise),
    ("brk", libc::SYS_brk),
    ("futex", libc::SYS_futex),
    ("rt_sigreturn", libc::SYS_rt_sigreturn),
    ("close", libc::SYS_close),
    ("sigaltstack", libc::SYS_sigaltstack),
    ("exit", libc::SYS_exit),
    ("exit_group", libc::SYS_exit_group),
];

/// What the device model's request loop adds: waiting on the event
/// channels and the signalfd, the polling window's clock, yielding.
pub const DEVICE_MODEL_SYSCALLS: &[(&str, i64)] = &[
    ("ppoll", libc::SYS_ppoll),
    ("clock_gettime", libc::SYS_clock_gettime),
    ("sched_yield", libc::SYS_sched_yield),
];

/// What the logger adds: waiting on its pipes.
pub const LOGGER_SYSCALLS: &[(&str, i64)] = &[("ppoll", libc::SYS_ppoll)];

/// What virtio-blk adds: reading and writing the disk image it opened
/// before deprivileging, at an offset, and flushing it. No call that names
/// a path: the disk is the only file the device model can reach.
pub const DISK_SYSCALLS: &[(&str, i64)] = &[
    ("pread64", libc::SYS_pread64),
    ("pwrite64", libc::SYS_pwrite64),
    ("fdatasync", libc::SYS_fdatasync),
];

/// A condition on argument `arg` of a system call.
fn cond(arg: u8, len: SeccompCmpArgLen, op: SeccompCmpOp, value: u64) -> SeccompCondition {
    SeccompCondition::new(arg, len, op, value).expect("argument 0 to 5")
}

/// The architecture the filter checks each call's `arch` against (a call
/// of another ABI is refused): this build's.
#[cfg(target_arch = "x86_64")]
const TARGET_ARCH: TargetArch = TargetArch::x86_64;
#[cfg(target_arch = "aarch64")]
const TARGET_ARCH: TargetArch = TargetArch::aarch64;

fn seccomp(
    lists: &[&[(&str, i64)]],
    ioctls: &[(&str, u32)],
    disks: &[DiskBound],
) -> Result<(seccompiler::BpfProgram, String), String> {
    use SeccompCmpArgLen::{Dword, Qword};
    let syscalls: Vec<(&str, i64)> = lists.iter().flat_map(|l| l.iter().copied()).collect();
    // An empty rule list admits every call of that number.
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> =
        syscalls.iter().map(|(_, n)| (*n, Vec::new())).collect();
    if !ioctls.is_empty() {
        rules.insert(
            libc::SYS_ioctl,
            ioctls.iter().map(|(_, c)| rule_cmd(*c)).collect(),
        );
    }
    let fd = |d: &DiskBound| u64::from(d.fd as u32);
    if rules.contains_key(&libc::SYS_pwrite64) {
        // Each write ends within its disk: at most n bytes at an offset of
        // at most len - n, for n each power of two up to WRITE_CHUNK.
        let bounded: Vec<SeccompRule> = disks
            .iter()
            .filter(|d| d.writable)
            .flat_map(|d| {
                write_sizes().filter_map(move |n| {
                    let last = d.len.checked_sub(n)?;
                    SeccompRule::new(vec![
                        cond(0, Dword, SeccompCmpOp::Eq, fd(d)),
                        cond(2, Qword, SeccompCmpOp::Le, n),
                        cond(3, Qword, SeccompCmpOp::Le, last),
                    ])
                    .ok()
                })
            })
            .collect();
        if bounded.is_empty() {
            rules.remove(&libc::SYS_pwrite64);
        } else {
            rules.insert(libc::SYS_pwrite64, bounded);
        }
        // Reads only of the disks. (An empty list would admit any call:
        // without disks, no pread64 at all.)
        let reads: Vec<SeccompRule> = disks
            .iter()
            .filter_map(|d| SeccompRule::new(vec![cond(0, Dword, SeccompCmpOp::Eq, fd(d))]).ok())
            .collect();
        if reads.is_empty() {
            rules.remove(&libc::SYS_pread64);
        } else {
            rules.insert(libc::SYS_pread64, reads);
        }
    }
    if !disks.is_empty() {
        // A plain write (the log, the console) never to a disk: its offset
        // is the file's, which no filter sees.
        let not_disks: Vec<SeccompCondition> = disks
            .iter()
            .map(|d| cond(0, Dword, SeccompCmpOp::Ne, fd(d)))
            .collect();
        rules.insert(
            libc::SYS_write,
            vec![SeccompRule::new(not_disks).map_err(|e| e.to_string())?],
        );
    }
    let admitted = rules.len();
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Errno(libc::EPERM as u32),
        SeccompAction::Allow,
        TARGET_ARCH,
    )
    .map_err(|e| e.to_string())?;
    let prog: seccompiler::BpfProgram = filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| e.to_string())?;
    Ok((
        prog,
        format!(
            "{admitted} system calls and {} ioctls allowed{}, everything else EPERM",
            ioctls.len(),
            if disks.is_empty() {
                String::new()
            } else {
                format!(
                    "; the {} disk(s) written only within their size, never by a plain write",
                    disks.len()
                )
            }
        ),
    ))
}

/// Closes every descriptor from 3 up except `keep` (sorted here): a forked
/// helper holds what it was given and nothing of its parent's. Without
/// `close_range` (Linux before 5.9) it closes them one at a time; the
/// plan's `known_fds` check (`no_unknown_fds`) fails closed on anything
/// left.
pub fn close_all_but(keep: &mut [std::os::fd::RawFd]) {
    keep.sort_unstable();
    let mut from = 3u32;
    for k in keep.iter().filter_map(|&k| u32::try_from(k).ok()) {
        if from < k {
            // SAFETY: closes a range of descriptors this process does not use.
            unsafe { libc::syscall(libc::SYS_close_range, from, k - 1, 0u32) };
        }
        from = from.max(k + 1);
    }
    // SAFETY: as above, up to the last possible descriptor.
    let r = unsafe { libc::syscall(libc::SYS_close_range, from, u32::MAX, 0u32) };
    if r < 0 {
        // A kernel before 5.9: one at a time, keeping `keep`.
        for fd in 3..65536 {
            if !keep.contains(&fd) {
                // SAFETY: closes one descriptor this process does not use.
                unsafe { libc::close(fd) };
            }
        }
    }
}

/// Ignores SIGINT, SIGTERM and SIGHUP in a helper process (the logger,
/// the xenstore forwarder): a Ctrl-C or a service manager signals the
/// whole group, and a helper must end with the device model's descriptors,
/// not before the device model has said its last lines or written its
/// last xenstore nodes.
pub fn ignore_group_signals() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: sets a signal's disposition to ignore; no handler runs.
        unsafe { libc::signal(sig, libc::SIG_IGN) };
    }
}
