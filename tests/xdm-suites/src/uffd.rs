// SPDX-License-Identifier: MIT
//! Forced races on the kernel's reads of user memory, with userfaultfd: two
//! pages, the first resident, the second registered as missing. An ioctl
//! whose argument reaches into the second page stalls in the kernel's copy
//! until a helper thread, woken by the fault, has done what the case wants
//! done "during" the copy (rewrite a field the kernel has read already,
//! restrict the fd...) and then supplies the page. The layouts and numbers
//! come from Linux's uapi headers through linux-raw-sys.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use linux_raw_sys::general::{
    uffd_msg, uffdio_api, uffdio_copy, uffdio_range, uffdio_register, UFFDIO_REGISTER_MODE_MISSING,
    UFFD_API, UFFD_EVENT_PAGEFAULT,
};
use linux_raw_sys::ioctl::{UFFDIO_API, UFFDIO_COPY, UFFDIO_REGISTER};

use crate::raw::Errno;

const PAGE: usize = 4096;

fn last_errno() -> Errno {
    Errno(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

/// Two pages, the second one stalled by userfaultfd until [`Stall::run`]
/// supplies it.
pub struct Stall {
    uffd: OwnedFd,
    area: usize,
}

impl Stall {
    /// Maps the two pages and registers the second. Needs CONFIG_USERFAULTFD
    /// and, for faults taken by the kernel, privilege (the suites run as root).
    pub fn new() -> Result<Self, Errno> {
        // SAFETY: the userfaultfd system call with flags only.
        let fd =
            unsafe { libc::syscall(libc::SYS_userfaultfd, libc::O_CLOEXEC | libc::O_NONBLOCK) };
        if fd < 0 {
            return Err(last_errno());
        }
        // SAFETY: a fresh descriptor we own.
        let uffd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        let mut api = uffdio_api {
            api: u64::from(UFFD_API),
            features: 0,
            ioctls: 0,
        };
        // SAFETY: UFFDIO_API with its struct.
        if unsafe { libc::ioctl(uffd.as_raw_fd(), UFFDIO_API as _, &mut api) } != 0 {
            return Err(last_errno());
        }
        // SAFETY: a fresh anonymous mapping of two pages.
        let area = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                2 * PAGE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if area == libc::MAP_FAILED {
            return Err(last_errno());
        }
        let area = area as usize;
        // SAFETY: makes the first page resident; it is ours.
        unsafe { std::ptr::write_bytes(area as *mut u8, 0, PAGE) };
        let mut reg = uffdio_register {
            range: uffdio_range {
                start: (area + PAGE) as u64,
                len: PAGE as u64,
            },
            mode: u64::from(UFFDIO_REGISTER_MODE_MISSING),
            ioctls: 0,
        };
        // SAFETY: UFFDIO_REGISTER of our second page.
        if unsafe { libc::ioctl(uffd.as_raw_fd(), UFFDIO_REGISTER as _, &mut reg) } != 0 {
            let e = last_errno();
            // SAFETY: our mapping.
            unsafe { libc::munmap(area as *mut libc::c_void, 2 * PAGE) };
            return Err(e);
        }
        Ok(Self { uffd, area })
    }

    /// The stalled page's address.
    pub fn second(&self) -> usize {
        self.area + PAGE
    }

    /// Runs `ioctl` on this thread. When the kernel faults on the second
    /// page, a helper thread runs `during` and then supplies `contents` as
    /// that page. Returns the ioctl's result and whether the fault was seen
    /// (a case whose copy never stalled proves nothing). One use only: the
    /// page is present afterwards.
    pub fn run<R>(
        &self,
        contents: &[u8; PAGE],
        during: impl FnOnce() + Send,
        ioctl: impl FnOnce() -> R,
    ) -> (R, bool) {
        let uffd = self.uffd.as_raw_fd();
        let second = self.second();
        std::thread::scope(|s| {
            let helper = s.spawn(move || {
                let mut pfd = libc::pollfd {
                    fd: uffd,
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: poll on our descriptor, with a bound.
                let ready =
                    unsafe { libc::poll(&mut pfd, 1, Duration::from_secs(10).as_millis() as i32) };
                let mut faulted = false;
                if ready == 1 {
                    // SAFETY: an all-zero uffd_msg is a valid value to read into.
                    let mut msg: uffd_msg = unsafe { std::mem::zeroed() };
                    // SAFETY: reads one message into `msg`.
                    let n =
                        unsafe { libc::read(uffd, (&raw mut msg).cast(), size_of::<uffd_msg>()) };
                    // SAFETY: a page-fault message's union member.
                    let at = unsafe { msg.arg.pagefault.address } as usize;
                    faulted = n == size_of::<uffd_msg>() as isize
                        && u32::from(msg.event) == UFFD_EVENT_PAGEFAULT
                        && at & !(PAGE - 1) == second;
                }
                during();
                let mut copy = uffdio_copy {
                    dst: second as u64,
                    src: contents.as_ptr() as u64,
                    len: PAGE as u64,
                    mode: 0,
                    copy: 0,
                };
                // SAFETY: UFFDIO_COPY of our buffer into our registered page; wakes the faulting thread.
                unsafe { libc::ioctl(uffd, UFFDIO_COPY as _, &mut copy) };
                faulted
            });
            let r = ioctl();
            (r, helper.join().unwrap_or(false))
        })
    }
}

impl Drop for Stall {
    fn drop(&mut self) {
        // SAFETY: our mapping.
        unsafe { libc::munmap(self.area as *mut libc::c_void, 2 * PAGE) };
    }
}
