// SPDX-License-Identifier: MIT
//! The logger process: the device model's log files, out of its reach.
//!
//! Under xl, the device model's stdout and stderr are a regular file
//! (`/var/log/xen/qemu-dm-NAME.log`), and `--uart-log` names another.
//! `RLIMIT_FSIZE` is one limit for every file a process writes, and a
//! device model with a file disk needs it raised to the disk's size (the
//! seccomp filter keeps each disk's writes within the disk). A taken-over
//! device model holding its log files could then grow them to that size.
//!
//! So the device model does not hold them. Before it deprivileges, each
//! log file is handed to a logger process forked for it, and the device
//! model's descriptor is replaced by a pipe to the logger. The logger
//! deprivileges itself like the device model (its own uid, chroot,
//! namespaces, an allow-list of a dozen system calls, no ioctl) with
//! `RLIMIT_FSIZE` at `--max-file-size`, copies what arrives, drops what
//! the limit refuses, and exits when every pipe is closed: when the device
//! model (and the xenstore forwarder, which shares its stderr) is gone.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::path::Path;

use dmop_abi::types::DomId;

use crate::depriv::{self, Plan, Profile};

/// The logger, seen from the device model.
#[derive(Debug)]
pub struct Logger {
    /// Its pid.
    pub pid: libc::pid_t,
    /// The write end of the pipe that stands for `--uart-log`, if named.
    pub uart: Option<File>,
    /// What it took over, in words (for the log).
    pub took: Vec<String>,
    /// The read end of a pipe whose write end only the logger holds: it
    /// reads as closed once the logger has exited ([`Logger::finish`]).
    done: File,
}

/// How long [`Logger::finish`] waits for the logger to write out the last
/// lines and exit.
const FINISH_WAIT_MS: i64 = 2000;

impl Logger {
    /// The device model's one descriptor of the logger's besides its pipes
    /// (the read end of the pipe [`Logger::finish`] waits on), for the
    /// list of descriptors it knows of.
    pub fn done_fd(&self) -> RawFd {
        self.done.as_raw_fd()
    }

    /// Ends the device model's side, as the last thing before its exit:
    /// flushes stdout, closes descriptors 1 and 2 (whatever they are: the
    /// logger's pipes, or what the device model was started with when only
    /// `--uart-log` was a file; Rust's standard streams take a closed
    /// descriptor as a sink, but a file opened afterwards would take those
    /// numbers, so a program embedding [`crate::app::main_with`] must not
    /// open files after it returns) and the console's pipe, and waits, up
    /// to two seconds,
    /// until the logger has written everything and exited, so that a
    /// reader of the log who saw the device model go sees its last lines.
    /// The logger also waits for the xenstore forwarder, which shares
    /// stderr and ends when the device model's end of its socket closes.
    pub fn finish(self) {
        let _ = std::io::stdout().flush();
        drop(self.uart);
        for fd in [1, 2] {
            // SAFETY: closes the device model's stdio numbers, which nothing
            // of it uses from here on (a write gets EBADF, a sink for std).
            unsafe { libc::close(fd) };
        }
        let mut p = libc::pollfd {
            fd: self.done.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let wait = libc::timespec {
            tv_sec: FINISH_WAIT_MS / 1000,
            tv_nsec: (FINISH_WAIT_MS % 1000) * 1_000_000,
        };
        // SAFETY: one live pollfd and a live timeout for the call; no
        // signal mask. The result is not needed: hang-up or timeout, the
        // device model exits next.
        unsafe { libc::ppoll(&mut p, 1, &wait, std::ptr::null()) };
    }
}

/// The number of threads of this process: forking is sound only with one
/// (the child runs Rust code that allocates).
fn threads() -> Result<usize, String> {
    std::fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .map_err(|e| format!("/proc/self/task: {e} (the logger is forked only from a process seen to have one thread)"))
}

/// A pipe (read end, write end), close-on-exec. (`std::io::pipe` needs
/// Rust 1.87; the workspace's MSRV is 1.83.)
fn pipe() -> Result<(File, File), String> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into `fds`.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(format!("pipe2: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: both were just made and are owned by nobody else.
    Ok(unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) })
}

/// One log file and who writes to it.
struct Target {
    file: File,
    /// The device model's descriptors (1, 2) that pointed at it.
    std_fds: Vec<RawFd>,
    /// Whether `--uart-log` is this file.
    uart: bool,
    /// How the log names it.
    name: String,
}

/// A regular file's identity.
fn identity(fd: RawFd) -> Option<(u64, u64)> {
    // SAFETY: a zeroed stat is a valid out-buffer for fstat.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat writes into `st`, which lives for the call.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return None;
    }
    (st.st_mode & libc::S_IFMT == libc::S_IFREG).then_some((st.st_dev, st.st_ino))
}

/// Forks the logger if the device model writes to any regular file
/// (stdout, stderr, `uart_log`); it runs as `uid`/`gid` (as root, or in a
/// user namespace when the device model did not start as root) with
/// `RLIMIT_FSIZE` at `max_file_size`. On return, descriptors 1 and 2 of
/// the device model are pipes to it where they were files.
pub fn spawn(
    uart_log: Option<&Path>,
    max_file_size: u64,
    domid: DomId,
    uid: u32,
    gid: u32,
    as_root: bool,
) -> Result<Option<Logger>, String> {
    let mut targets: Vec<(Option<(u64, u64)>, Target)> = Vec::new();
    for fd in [1, 2] {
        let Some(id) = identity(fd) else { continue };
        if let Some((_, t)) = targets.iter_mut().find(|(i, _)| *i == Some(id)) {
            t.std_fds.push(fd);
            continue;
        }
        // SAFETY: dup of an open descriptor; the copy is owned here.
        let copy = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
        if copy < 0 {
            return Err(format!("dup of {fd}: {}", std::io::Error::last_os_error()));
        }
        targets.push((
            Some(id),
            Target {
                // SAFETY: `copy` was just made and is owned by nobody else.
                file: unsafe { File::from_raw_fd(copy) },
                std_fds: vec![fd],
                uart: false,
                name: std::fs::read_link(format!("/proc/self/fd/{fd}"))
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|_| if fd == 1 { "stdout" } else { "stderr" }.into()),
            },
        ));
    }
    if let Some(p) = uart_log {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .map_err(|e| format!("--uart-log {}: {e}", p.display()))?;
        let id = identity(f.as_raw_fd());
        match targets.iter_mut().find(|(i, _)| id.is_some() && *i == id) {
            Some((_, t)) => t.uart = true,
            None => targets.push((
                id,
                Target {
                    file: f,
                    std_fds: Vec::new(),
                    uart: true,
                    name: format!("--uart-log {}", p.display()),
                },
            )),
        }
    }
    if targets.is_empty() {
        return Ok(None);
    }
    match threads()? {
        1 => {}
        n => {
            return Err(format!(
                "the device model has {n} threads where it must have one to fork its logger"
            ))
        }
    }
    let pipes = targets
        .iter()
        .map(|_| pipe())
        .collect::<Result<Vec<_>, _>>()?;
    let targets: Vec<Target> = targets.into_iter().map(|(_, t)| t).collect();
    let took = targets
        .iter()
        .map(|t| {
            let mut who: Vec<String> = t
                .std_fds
                .iter()
                .map(|&fd| if fd == 1 { "stdout" } else { "stderr" }.to_string())
                .collect();
            if t.uart {
                who.push("the guest's console".into());
            }
            format!("{} ({})", t.name, who.join(", "))
        })
        .collect();
    // The logger says "ok" on this pipe once it is confined, or why not;
    // the device model's descriptors change only after an "ok".
    let (ready_r, ready_w) = pipe()?;
    let (done_r, done_w) = pipe()?;
    // SAFETY: the process has one thread (checked above); the child only
    // runs `child`, catching any panic, and leaves with _exit.
    match unsafe { libc::fork() } {
        -1 => Err(format!("fork: {}", std::io::Error::last_os_error())),
        0 => {
            drop(ready_r);
            drop(done_r);
            let mut ends = Vec::new();
            let mut files = Vec::new();
            for ((r, w), t) in pipes.into_iter().zip(targets) {
                drop(w);
                ends.push(r);
                files.push(t.file);
            }
            // A panic must not unwind into the device model's frames.
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                child(
                    ready_w,
                    done_w,
                    ends,
                    files,
                    max_file_size,
                    domid,
                    uid,
                    gid,
                    as_root,
                )
            }))
            .unwrap_or(1);
            // SAFETY: leaving the child without running the parent's exit handlers.
            unsafe { libc::_exit(code) }
        }
        pid => {
            drop(ready_w);
            drop(done_w);
            let mut said = String::new();
            let _ = (&ready_r).take(4096).read_to_string(&mut said);
            if said != "ok" {
                let mut status = 0;
                // SAFETY: reaps our own child; `status` lives for the call.
                unsafe { libc::waitpid(pid, &mut status, 0) };
                return Err(if said.is_empty() {
                    "it ended before it was confined".into()
                } else {
                    said
                });
            }
            let mut uart = None;
            for ((r, w), t) in pipes.into_iter().zip(targets) {
                drop(r);
                drop(t.file);
                for &fd in &t.std_fds {
                    // SAFETY: dup2 onto the device model's own stdio number.
                    if unsafe { libc::dup2(w.as_raw_fd(), fd) } < 0 {
                        return Err(format!(
                            "dup2 onto {fd}: {}",
                            std::io::Error::last_os_error()
                        ));
                    }
                }
                if t.uart {
                    uart = Some(w);
                }
            }
            Ok(Some(Logger {
                pid,
                uart,
                took,
                done: done_r,
            }))
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn child(
    mut ready: File,
    done: File,
    ends: Vec<File>,
    mut files: Vec<File>,
    max_file_size: u64,
    domid: DomId,
    uid: u32,
    gid: u32,
    as_root: bool,
) -> i32 {
    // It ends when the device model's pipes close, not on the signals a
    // terminal or a service manager sends the whole group: the device
    // model's last lines, written as it stops, still reach the log.
    depriv::ignore_group_signals();
    // Its stdio is /dev/null: it holds its logs, its pipes, nothing else.
    match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        Ok(null) => {
            for fd in 0..3 {
                // SAFETY: dup2 onto this process's own stdio numbers.
                if unsafe { libc::dup2(null.as_raw_fd(), fd) } < 0 {
                    let _ = ready.write_all(b"dup2 of /dev/null onto its stdio failed");
                    return 1;
                }
            }
        }
        Err(e) => {
            let _ = ready.write_all(format!("/dev/null: {e}").as_bytes());
            return 1;
        }
    }
    // Nothing but stdio, the readiness and done pipes, the pipes' read
    // ends and the files.
    let mut keep: Vec<RawFd> = ends
        .iter()
        .chain(files.iter())
        .chain([&ready, &done])
        .map(AsRawFd::as_raw_fd)
        .collect();
    depriv::close_all_but(&mut keep);
    let plan = Plan {
        domid,
        uid,
        gid,
        as_root,
        max_file_size,
        profile: Profile::Logger,
        known_fds: keep,
        disks: Vec::new(),
    };
    if let Err(f) = depriv::apply(&plan) {
        let _ = ready.write_all(f.to_string().as_bytes());
        return 1;
    }
    if ready.write_all(b"ok").is_err() {
        return 1;
    }
    drop(ready);
    copy_until_closed(ends, &mut files);
    // `done` is left open: it closes as the process exits (`_exit`), and
    // the device model's [`Logger::finish`] sees that.
    std::mem::forget(done);
    0
}

/// Copies each pipe to its file until every pipe is closed. A file past
/// its size limit (EFBIG) gets nothing more, and its pipe is still drained
/// so the writer never blocks on it; another write error loses that chunk
/// only. A pipe that cannot be read is closed, so its writer gets EPIPE
/// rather than blocking once it is full.
fn copy_until_closed(ends: Vec<File>, files: &mut [File]) {
    let mut ends: Vec<Option<File>> = ends.into_iter().map(Some).collect();
    let mut writable: Vec<bool> = vec![true; files.len()];
    let mut buf = vec![0u8; 64 * 1024];
    while ends.iter().any(Option::is_some) {
        let mut pfds: Vec<libc::pollfd> = ends
            .iter()
            .map(|e| libc::pollfd {
                fd: e.as_ref().map_or(-1, AsRawFd::as_raw_fd),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        // SAFETY: `pfds` is a live array of `pfds.len()` pollfds; no timeout
        // and no signal mask.
        let n = unsafe {
            libc::ppoll(
                pfds.as_mut_ptr(),
                pfds.len() as libc::nfds_t,
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        for (i, p) in pfds.iter().enumerate() {
            if p.fd < 0 || p.revents == 0 {
                continue;
            }
            let Some(end) = ends[i].as_mut() else {
                continue;
            };
            match end.read(&mut buf) {
                Ok(0) => ends[i] = None,
                Ok(k) => {
                    if writable[i] {
                        if let Err(e) = files[i].write_all(&buf[..k]) {
                            writable[i] = e.raw_os_error() != Some(libc::EFBIG);
                        }
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => ends[i] = None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory for one test.
    fn scratch(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("xdm-logger-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn copies_each_pipe_to_its_file_until_all_close() {
        let dir = scratch("copies");
        let (r1, mut w1) = pipe().unwrap();
        let (r2, mut w2) = pipe().unwrap();
        let f1 = File::create(dir.join("a")).unwrap();
        let f2 = File::create(dir.join("b")).unwrap();
        w1.write_all(b"one\n").unwrap();
        w2.write_all(b"two\n").unwrap();
        w1.write_all(b"three\n").unwrap();
        drop(w1);
        drop(w2);
        copy_until_closed(vec![r1, r2], &mut [f1, f2]);
        assert_eq!(
            std::fs::read_to_string(dir.join("a")).unwrap(),
            "one\nthree\n"
        );
        assert_eq!(std::fs::read_to_string(dir.join("b")).unwrap(), "two\n");
    }

    #[test]
    fn a_file_that_refuses_writes_is_dropped_and_its_pipe_drained() {
        let dir = scratch("refuses");
        let (r, mut w) = pipe().unwrap();
        // Read-only: every write fails, as one past RLIMIT_FSIZE does.
        std::fs::write(dir.join("ro"), b"").unwrap();
        let f = File::open(dir.join("ro")).unwrap();
        let writer = std::thread::spawn(move || {
            // More than a pipe holds: the reader must keep draining.
            for _ in 0..64 {
                w.write_all(&[b'x'; 16 * 1024]).unwrap();
            }
        });
        copy_until_closed(vec![r], &mut [f]);
        writer.join().unwrap();
        assert_eq!(std::fs::metadata(dir.join("ro")).unwrap().len(), 0);
    }
}
