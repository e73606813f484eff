// SPDX-License-Identifier: MIT
//! The debug-exit port: the guest writes an exit code, the device model
//! shuts the guest down (`XEN_DMOP_remote_shutdown`): poweroff for 0, crash
//! otherwise, and reports the code.

use dmop_abi::dmop::ShutdownReason;

use crate::device::{Access, Ctx, Device, Region};

/// The debug-exit port (two bytes wide; the test platform puts it at
/// 0x501, QEMU's isa-debug-exit default).
#[derive(Debug, Default)]
pub struct DebugExit;

impl DebugExit {
    /// The device; a board places its port.
    pub fn new() -> Self {
        Self
    }
}

impl Device for DebugExit {
    fn name(&self) -> &str {
        "debug-exit"
    }

    fn regions(&self) -> Vec<Region> {
        vec![Region::Ports(2)]
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
