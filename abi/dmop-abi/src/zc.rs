// SPDX-License-Identifier: MIT
//! Conveniences that need zerocopy (userspace only; the kernel never builds
//! DMOP payloads, it passes them through).

use zerocopy::{Immutable, IntoBytes};

use crate::dmop::{DmopCode, XenDmOp};

impl XenDmOp {
    /// A `xen_dm_op` for `op` carrying `payload`, the rest of the union zero:
    /// the 32 bytes libxendevicemodel puts in buffer 0.
    ///
    /// # Panics
    ///
    /// If `payload` is larger than the union (no op struct is).
    pub fn with_payload<P: IntoBytes + Immutable>(op: DmopCode, payload: &P) -> Self {
        let mut this = Self::new(op);
        let src = payload.as_bytes();
        this.u.as_mut_bytes()[..src.len()].copy_from_slice(src);
        this
    }

    /// The payload as the op struct `P` (for ops that write results back).
    pub fn payload<P: zerocopy::FromBytes + zerocopy::KnownLayout + Immutable + Copy>(&self) -> P {
        zerocopy::FromBytes::read_from_prefix(self.u.as_bytes())
            .expect("every op struct fits the union")
            .0
    }
}
