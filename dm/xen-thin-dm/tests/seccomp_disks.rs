// SPDX-License-Identifier: MIT
//! The seccomp filter of a device model with disks, applied for real in a
//! child process: each disk is written only within its size, in the
//! pieces `disk_write_limit` gives, never with a plain `write`; a
//! read-only disk not at all. (`RLIMIT_FSIZE` is one limit for every file:
//! without these bounds a taken-over device model could grow a smaller
//! disk file up to the largest one's size.)

use std::io::Write;
use std::os::fd::AsRawFd;

use xen_thin_dm::depriv::{disk_write_limit, seccomp_program, DiskBound, Profile, WRITE_CHUNK};

fn file(len: u64) -> std::fs::File {
    let p = std::env::temp_dir().join(format!("xtdm-seccomp-{}-{len}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&p)
        .unwrap();
    std::fs::remove_file(&p).unwrap();
    f.write_all(&vec![0u8; len as usize]).unwrap();
    f
}

#[test]
fn a_disk_is_written_only_within_its_size() {
    let small_len = 8 << 10;
    let big_len = 2 * WRITE_CHUNK + 4096;
    let (small, big, ro) = (file(small_len), file(big_len), file(4096));
    let disks = [
        DiskBound {
            fd: small.as_raw_fd(),
            len: small_len,
            writable: true,
        },
        DiskBound {
            fd: big.as_raw_fd(),
            len: big_len,
            writable: true,
        },
        DiskBound {
            fd: ro.as_raw_fd(),
            len: 4096,
            writable: false,
        },
    ];
    let (prog, said) = seccomp_program(Profile::DeviceModelWithDisk, &disks).unwrap();
    assert!(said.contains("within their size"), "{said}");
    let mut pipe = [0i32; 2];
    // SAFETY: a pipe into an array of two.
    assert_eq!(unsafe { libc::pipe(pipe.as_mut_ptr()) }, 0);
    // Room for the longest write tried (one byte over WRITE_CHUNK).
    let chunk = vec![0x5au8; WRITE_CHUNK as usize + 4096];
    let (s, b, r) = (small.as_raw_fd(), big.as_raw_fd(), ro.as_raw_fd());
    let at = |n: u64| n as libc::off_t;

    // SAFETY: the child only makes system calls on descriptors and buffers
    // made before the fork, and leaves with _exit: nothing that could
    // deadlock on a lock another thread of this test process held.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        let denied = |r: isize| {
            r == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
        };
        let exit = |code: i32| -> ! {
            // SAFETY: leaving the child at once.
            unsafe { libc::_exit(code) }
        };
        if seccompiler::apply_filter(&prog).is_err() {
            exit(100);
        }
        let p = chunk.as_ptr().cast::<libc::c_void>();
        let high = |fd: i32| (1i64 << 32) | i64::from(fd);
        let checks: [(bool, i32); 18] =
        // SAFETY: every call writes or reads at most `chunk`'s length from
        // or into `chunk`, on descriptors this process holds.
        unsafe {
            [
                (libc::pwrite(s, p, 512, 0) == 512, 1),
                (denied(libc::pwrite(s, p, 1, at(small_len))), 2),
                (denied(libc::pwrite(s, p, 2, at(small_len - 1))), 3),
                (libc::pwrite(s, p, 1, at(small_len - 1)) == 1, 4),
                (
                    libc::pwrite(b, p, WRITE_CHUNK as usize, 0) == WRITE_CHUNK as isize,
                    5,
                ),
                (
                    denied(libc::pwrite(
                        b,
                        p,
                        WRITE_CHUNK as usize,
                        at(big_len - WRITE_CHUNK + 1),
                    )),
                    6,
                ),
                (libc::pwrite(b, p, 512, at(big_len - 512)) == 512, 7),
                (denied(libc::write(s, p, 1)), 8),
                (libc::write(pipe[1], p, 1) == 1, 9),
                (denied(libc::pwrite(r, p, 1, 0)), 10),
                (
                    libc::pread(r, chunk.as_ptr() as *mut libc::c_void, 1, 0) == 1,
                    11,
                ),
                (
                    denied(libc::pread(
                        pipe[0],
                        chunk.as_ptr() as *mut libc::c_void,
                        1,
                        0,
                    )),
                    12,
                ),
                // A negative offset is a huge one to the filter.
                (denied(libc::pwrite(s, p, 1, -1)), 13),
                // Longer than the disk, from its start.
                (denied(libc::pwrite(s, p, small_len as usize + 1, 0)), 14),
                (denied(libc::pwrite(b, p, WRITE_CHUNK as usize + 1, 0)), 15),
                // The kernel takes the fd's low 32 bits, and so does the filter.
                (
                    denied(libc::syscall(libc::SYS_pwrite64, high(s), p, 1, small_len) as isize),
                    16,
                ),
                (denied(libc::write(b, p, 1)), 17),
                (denied(libc::write(r, p, 1)), 18),
            ]
        };
        for (held, code) in checks {
            if !held {
                exit(code);
            }
        }
        exit(0);
    }
    let mut status = 0;
    // SAFETY: waiting for our child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert!(libc::WIFEXITED(status), "the child died: {status:#x}");
    assert_eq!(
        libc::WEXITSTATUS(status),
        0,
        "the check of that number did not hold under the filter"
    );
    for (f, len) in [(&small, small_len), (&big, big_len), (&ro, 4096)] {
        assert_eq!(f.metadata().unwrap().len(), len, "no disk grew");
    }
    // The pieces the device model writes in are the ones the filter admits.
    assert_eq!(disk_write_limit(0, big_len), WRITE_CHUNK);
    assert_eq!(disk_write_limit(big_len - 512, big_len), 512);
    assert_eq!(disk_write_limit(small_len - 1, small_len), 1);
}
