// SPDX-License-Identifier: MIT
//! The scratch device the test guest exercises: a 4-byte register file and
//! an identification register on ports, and a 4 KiB page of MMIO memory.

use crate::device::{Access, Ctx, Device, Region, Space};
use crate::testplatform;

/// Where the id register is among the scratch ports.
const ID_OFFSET: u64 = testplatform::SCRATCH_ID_PORT - testplatform::SCRATCH_PORT;

/// Registers (4 bytes) and an id register on ports, and a page of memory.
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

    /// The registers (4 bytes, then the 4-byte id) and the memory page;
    /// the test platform places them at `TG_SCRATCH_PORT` and
    /// `TG_SCRATCH_MMIO`.
    fn regions(&self) -> Vec<Region> {
        vec![Region::Ports(ID_OFFSET + 4), Region::Mmio(4096)]
    }

    fn read(&mut self, a: Access, _: &mut Ctx<'_>) -> u64 {
        match a.space {
            Space::Port(_) if a.addr >= ID_OFFSET => load(
                &testplatform::SCRATCH_ID.to_le_bytes()[..4],
                (a.addr - ID_OFFSET) as usize,
                a.size,
            ),
            Space::Port(_) => load(&self.regs, a.addr as usize, a.size),
            _ => load(&self.mem, a.addr as usize, a.size),
        }
    }

    fn write(&mut self, a: Access, value: u64, _: &mut Ctx<'_>) {
        match a.space {
            Space::Port(_) if a.addr >= ID_OFFSET => {}
            Space::Port(_) => store(&mut self.regs, a.addr as usize, a.size, value),
            _ => store(&mut self.mem, a.addr as usize, a.size, value),
        }
    }
}
