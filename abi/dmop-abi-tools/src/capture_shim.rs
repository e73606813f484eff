// SPDX-License-Identifier: MIT
//! `capture_abi.h` for the ioctl-capturing shim
//! (`lib/xendevicemodel-c/tests/c/capture.c`): the privcmd numbers and
//! offsets it needs, from dmop-abi. Its users are the drop-in's tests and
//! `cargo xtask bench`.
//!
//! ```
//! let h = dmop_abi_tools::capture_shim::header();
//! assert!(h.contains("#define XDM_DM_OP_BUF_SIZE 16\n"));
//! ```

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
