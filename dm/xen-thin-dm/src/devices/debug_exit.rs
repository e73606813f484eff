// SPDX-License-Identifier: MIT
//! The debug-exit port: the guest writes an exit code, the device model
//! shuts the guest down (`XEN_DMOP_remote_shutdown`): poweroff for 0, crash
//! otherwise, and reports the code.

use std::ops::RangeInclusive;

use dmop_abi::dmop::ShutdownReason;

use crate::device::{Access, Ctx, Device};

/// The debug-exit port at `port` (two bytes wide).
pub struct DebugExit {
    port: u64,
}

impl DebugExit {
    /// The port (0x501, QEMU's isa-debug-exit default).
    pub fn new(port: u64) -> Self {
        Self { port }
    }
}

impl Device for DebugExit {
    fn name(&self) -> &str {
        "debug-exit"
    }

    fn ports(&self) -> Vec<RangeInclusive<u64>> {
        vec![self.port..=self.port + 1]
    }

    fn read(&mut self, _: Access, _: &mut Ctx<'_>) -> u64 {
        0
    }

    fn write(&mut self, _: Access, value: u64, ctx: &mut Ctx<'_>) {
        let code = value as u32;
        let reason = if code == 0 {
            ShutdownReason::POWEROFF
        } else {
            ShutdownReason::CRASH
        };
        ctx.shutdown(reason, code);
    }
}
