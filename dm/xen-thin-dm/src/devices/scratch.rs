// SPDX-License-Identifier: MIT
//! The scratch device the test guest exercises: a 4-byte register file and
//! an identification register on ports, and a 4 KiB page of MMIO memory.

use std::ops::RangeInclusive;

use crate::device::{Access, Ctx, Device, Space};
use crate::testplatform;

/// Registers at `TG_SCRATCH_PORT` (4 bytes) and `TG_SCRATCH_ID_PORT`, memory at `TG_SCRATCH_MMIO`.
pub struct Scratch {
    regs: [u8; 4],
    mem: Vec<u8>,
}

impl Default for Scratch {
    fn default() -> Self {
        Self {
            regs: [0; 4],
            mem: vec![0; 4096],
        }
    }
}

fn load(bytes: &[u8], off: usize, size: u8) -> u64 {
    let mut v = 0u64;
    for i in 0..usize::from(size) {
        v |= u64::from(bytes.get(off + i).copied().unwrap_or(0xff)) << (8 * i);
    }
    v
}

fn store(bytes: &mut [u8], off: usize, size: u8, value: u64) {
    for i in 0..usize::from(size) {
        if let Some(b) = bytes.get_mut(off + i) {
            *b = (value >> (8 * i)) as u8;
        }
    }
}

impl Device for Scratch {
    fn name(&self) -> &str {
        "scratch"
    }

    fn ports(&self) -> Vec<RangeInclusive<u64>> {
        vec![testplatform::SCRATCH_PORT..=testplatform::SCRATCH_ID_PORT + 3]
    }

    fn mmio(&self) -> Vec<RangeInclusive<u64>> {
        vec![testplatform::SCRATCH_MMIO..=testplatform::SCRATCH_MMIO + 0xfff]
    }

    fn read(&mut self, a: Access, _: &mut Ctx<'_>) -> u64 {
        match a.space {
            Space::Port if a.addr >= testplatform::SCRATCH_ID_PORT => load(
                &testplatform::SCRATCH_ID.to_le_bytes()[..4],
                (a.addr - testplatform::SCRATCH_ID_PORT) as usize,
                a.size,
            ),
            Space::Port => load(
                &self.regs,
                (a.addr - testplatform::SCRATCH_PORT) as usize,
                a.size,
            ),
            _ => load(
                &self.mem,
                (a.addr - testplatform::SCRATCH_MMIO) as usize,
                a.size,
            ),
        }
    }

    fn write(&mut self, a: Access, value: u64, _: &mut Ctx<'_>) {
        match a.space {
            Space::Port if a.addr >= testplatform::SCRATCH_ID_PORT => {}
            Space::Port => store(
                &mut self.regs,
                (a.addr - testplatform::SCRATCH_PORT) as usize,
                a.size,
                value,
            ),
            _ => store(
                &mut self.mem,
                (a.addr - testplatform::SCRATCH_MMIO) as usize,
                a.size,
                value,
            ),
        }
    }
}
