// SPDX-License-Identifier: MIT
//! Errors: the operation and the errno the kernel or Xen gave.

use std::fmt;

/// A failed operation: which one, and the errno.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error {
    op: &'static str,
    errno: i32,
}

/// Result of this crate.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An error of `op` with `errno`.
    pub const fn new(op: &'static str, errno: i32) -> Self {
        Self { op, errno }
    }

    /// The errno of the last failed system call, for `op`.
    pub fn last(op: &'static str) -> Self {
        Self::new(
            op,
            std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO),
        )
    }

    /// The operation (`create_ioreq_server`, `restrict`, `open /dev/xen/privcmd`, ...).
    pub const fn op(&self) -> &'static str {
        self.op
    }

    /// The errno (`EPERM`, `ESRCH`, ...).
    pub const fn errno(&self) -> i32 {
        self.errno
    }

    /// The errno's symbolic name.
    pub fn errno_name(&self) -> &'static str {
        errno_name(self.errno)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} ({})",
            self.op,
            std::io::Error::from_raw_os_error(self.errno),
            errno_name(self.errno)
        )
    }
}

impl std::error::Error for Error {}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        std::io::Error::from_raw_os_error(e.errno)
    }
}

/// The symbolic name of an errno value.
pub fn errno_name(e: i32) -> &'static str {
    match e {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::ENXIO => "ENXIO",
        libc::E2BIG => "E2BIG",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::ENODEV => "ENODEV",
        libc::EINVAL => "EINVAL",
        libc::ENOTTY => "ENOTTY",
        libc::ENOSPC => "ENOSPC",
        libc::ERANGE => "ERANGE",
        libc::ENOSYS => "ENOSYS",
        libc::ENODATA => "ENODATA",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EXDEV => "EXDEV",
        libc::EOVERFLOW => "EOVERFLOW",
        libc::EROFS => "EROFS",
        libc::EMFILE => "EMFILE",
        libc::EFBIG => "EFBIG",
        libc::ESPIPE => "ESPIPE",
        libc::EPIPE => "EPIPE",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::EPROTONOSUPPORT => "EPROTONOSUPPORT",
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::ENOTCONN => "ENOTCONN",
        _ => "E?",
    }
}
