// SPDX-License-Identifier: MIT
//! Linux ioctl numbers as `asm-generic/ioctl.h` encodes them (x86 and Arm
//! use the generic encoding): direction in bits 30-31, argument size in
//! bits 16-29, type in bits 8-15, number in bits 0-7.

/// No data transfer (`_IOC_NONE`); the privcmd ioctls use it even though
/// they pass structs.
pub const IOC_NONE: u32 = 0;
/// Userspace writes the argument (`_IOC_WRITE`).
pub const IOC_WRITE: u32 = 1;
/// Userspace reads the argument (`_IOC_READ`).
pub const IOC_READ: u32 = 2;

/// `_IOC(dir, type, nr, size)`.
pub const fn ioc(dir: u32, ty: u8, nr: u8, size: usize) -> u32 {
    assert!(
        size < (1 << 14),
        "ioctl argument too large for the size field"
    );
    assert!(dir < 4, "bad ioctl direction");
    (dir << 30) | ((size as u32) << 16) | ((ty as u32) << 8) | (nr as u32)
}

/// The number field of an ioctl command (`_IOC_NR`).
pub const fn ioc_nr(cmd: u32) -> u8 {
    cmd as u8
}

/// The type field of an ioctl command (`_IOC_TYPE`).
pub const fn ioc_type(cmd: u32) -> u8 {
    (cmd >> 8) as u8
}

/// The size field of an ioctl command (`_IOC_SIZE`).
pub const fn ioc_size(cmd: u32) -> usize {
    ((cmd >> 16) & 0x3fff) as usize
}

/// An ioctl the ABI defines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoctlDesc {
    /// The C macro (`IOCTL_PRIVCMD_DM_OP`).
    pub name: &'static str,
    /// Header that defines it, or `"dmop-abi"` for this project's own.
    pub header: &'static str,
    /// `_IOC_NONE`, `_IOC_WRITE`, `_IOC_READ` or both.
    pub dir: u32,
    /// Type letter.
    pub ty: u8,
    /// Number.
    pub nr: u8,
    /// C type of the argument (`struct privcmd_dm_op`), empty for none.
    pub arg: &'static str,
    /// Argument size in the encoding.
    pub size: usize,
    /// The encoded command.
    pub value: u32,
}

/// Declares ioctl numbers and their table. `none`, `write`, `read` pick the
/// direction; the argument type's size is taken from the compiler.
macro_rules! ioctls {
    (
        $table:ident in $header:literal {
            $(
                $(#[$meta:meta])*
                pub const $name:ident = $dir:ident($ty:literal, $nr:literal $(, $arg:ty => $carg:literal)?);
            )*
        }
    ) => {
        $(
            $(#[$meta])*
            pub const $name: u32 = ioc(ioctl_dir!($dir), $ty, $nr, ioctl_size!($($arg)?));
        )*

        #[doc = concat!("The ioctls of `", $header, "` with their encodings.")]
        pub const $table: &[IoctlDesc] = &[
            $(
                IoctlDesc {
                    name: stringify!($name),
                    header: $header,
                    dir: ioctl_dir!($dir),
                    ty: $ty,
                    nr: $nr,
                    arg: ioctl_arg_name!($($carg)?),
                    size: ioctl_size!($($arg)?),
                    value: $name,
                },
            )*
        ];
    };
}

macro_rules! ioctl_dir {
    (none) => {
        IOC_NONE
    };
    (write) => {
        IOC_WRITE
    };
    (read) => {
        IOC_READ
    };
}

macro_rules! ioctl_size {
    () => {
        0
    };
    ($arg:ty) => {
        core::mem::size_of::<$arg>()
    };
}

macro_rules! ioctl_arg_name {
    () => {
        ""
    };
    ($c:literal) => {
        $c
    };
}
