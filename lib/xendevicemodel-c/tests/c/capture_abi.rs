// SPDX-License-Identifier: MIT
//! `capture_abi.h` for the ioctl-capturing shim `capture.c`: the privcmd
//! numbers and offsets it needs, from dmop-abi. Included (`#[path]`) by the
//! drop-in tests and by `cargo xtask bench`, the shim's two users.

use dmop_abi::layout::StructLayout;
use dmop_abi::privcmd::{self, PrivcmdDmOp, PrivcmdDmOpBuf};

/// The header's text.
pub fn header() -> String {
    let off = |s: &StructLayout, f: &str| s.field(f).expect("a field of the layout").offset;
    let (l, b) = (&PrivcmdDmOp::LAYOUT, &PrivcmdDmOpBuf::LAYOUT);
    format!(
        "#define XDM_IOCTL_PRIVCMD_DM_OP {:#x}ul\n#define XDM_IOCTL_PRIVCMD_RESTRICT {:#x}ul\n\
         #define XDM_DM_OP_DOM {}\n#define XDM_DM_OP_NUM {}\n#define XDM_DM_OP_UBUFS {}\n\
         #define XDM_DM_OP_BUF_SIZE {}\n#define XDM_DM_OP_BUF_UPTR {}\n#define XDM_DM_OP_BUF_LEN {}\n",
        privcmd::IOCTL_PRIVCMD_DM_OP,
        privcmd::IOCTL_PRIVCMD_RESTRICT,
        off(l, "dom"),
        off(l, "num"),
        off(l, "ubufs"),
        b.size,
        off(b, "uptr"),
        off(b, "size")
    )
}
