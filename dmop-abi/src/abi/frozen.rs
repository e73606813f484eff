// SPDX-License-Identifier: MIT
//! Bootstrap: replaced by the output of the freeze tool.

/// ABI version of the frozen manifest.
pub(crate) const ABI_VERSION: u32 = 0;
