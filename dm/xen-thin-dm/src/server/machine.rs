// SPDX-License-Identifier: MIT
//! The machine: routes a guest's accesses to the devices that claim them
//! (ports, MMIO, PCI configuration space, placed BARs). No Xen involved, so
//! it is unit tested on its own.

use std::collections::HashMap;
use std::ops::RangeInclusive;

use xendevicemodel::IoeventfdMatch;

use crate::device::{all_ones, Access, Action, Ctx, Device, Space};
use crate::guest_ram::GuestRam;

use super::Error;

/// The devices and where each answers.
pub struct Machine {
    devices: Vec<Box<dyn Device>>,
    ports: Vec<(RangeInclusive<u64>, usize)>,
    mmio: Vec<(RangeInclusive<u64>, usize)>,
    /// Placed memory BARs: range, device, BAR index.
    bars: Vec<(RangeInclusive<u64>, usize, u8)>,
    pci: HashMap<u8, usize>,
    actions: Vec<Action>,
    ram: Option<GuestRam>,
    /// Devices that left work for later, in the order they did.
    deferred: Vec<usize>,
}

impl std::fmt::Debug for Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Machine")
            .field(
                "devices",
                &self
                    .devices
                    .iter()
                    .map(|d| d.name().to_string())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// What a guest access did to the BAR layout (the server maps the change).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BarChange {
    /// Ranges no longer decoded.
    pub unmapped: Vec<RangeInclusive<u64>>,
    /// Ranges newly decoded.
    pub mapped: Vec<RangeInclusive<u64>>,
}

fn overlaps(a: &RangeInclusive<u64>, b: &RangeInclusive<u64>) -> bool {
    a.start() <= b.end() && b.start() <= a.end()
}

impl Machine {
    /// A machine of `devices`; fails if two claim overlapping ranges or one PCI slot.
    pub fn new(mut devices: Vec<Box<dyn Device>>) -> Result<Self, Error> {
        let mut ports: Vec<(RangeInclusive<u64>, usize)> = Vec::new();
        let mut mmio: Vec<(RangeInclusive<u64>, usize)> = Vec::new();
        let mut pci = HashMap::new();
        for (i, d) in devices.iter_mut().enumerate() {
            for r in d.ports() {
                if let Some((o, j)) = ports.iter().find(|(o, _)| overlaps(o, &r)) {
                    return Err(Error(format!(
                        "ports {r:#x?} of {} overlap {o:#x?} of device {j}",
                        d.name()
                    )));
                }
                ports.push((r, i));
            }
            for r in d.mmio() {
                if let Some((o, _)) = mmio.iter().find(|(o, _)| overlaps(o, &r)) {
                    return Err(Error(format!(
                        "MMIO {r:#x?} of {} overlaps {o:#x?}",
                        d.name()
                    )));
                }
                mmio.push((r, i));
            }
            if let Some(f) = d.pci() {
                if pci.insert(f.slot, i).is_some() {
                    return Err(Error(format!("two devices in PCI slot {}", f.slot)));
                }
            }
        }
        Ok(Self {
            devices,
            ports,
            mmio,
            bars: Vec::new(),
            pci,
            actions: Vec::new(),
            ram: None,
            deferred: Vec::new(),
        })
    }

    /// Forgets a placed BAR whose claim failed, so that it is neither
    /// decoded nor released later.
    pub fn forget_bar(&mut self, r: &RangeInclusive<u64>) {
        self.bars.retain(|(b, _, _)| b != r);
    }

    /// Port ranges to claim.
    pub fn port_ranges(&self) -> Vec<RangeInclusive<u64>> {
        self.ports.iter().map(|(r, _)| r.clone()).collect()
    }

    /// Fixed MMIO ranges to claim.
    pub fn mmio_ranges(&self) -> Vec<RangeInclusive<u64>> {
        self.mmio.iter().map(|(r, _)| r.clone()).collect()
    }

    /// PCI slots to claim.
    pub fn pci_slots(&self) -> Vec<u8> {
        let mut v: Vec<u8> = self.pci.keys().copied().collect();
        v.sort_unstable();
        v
    }

    /// The descriptors the devices declared ([`Device::fds`]).
    pub fn fds(&self) -> Vec<std::os::fd::RawFd> {
        self.devices.iter().flat_map(|d| d.fds()).collect()
    }

    /// Actions devices asked for since the last call.
    pub fn take_actions(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.actions)
    }

    /// Whether a device asked for guest RAM.
    pub fn needs_guest_memory(&self) -> bool {
        self.devices.iter().any(|d| d.needs_guest_memory())
    }

    /// Gives the devices the guest's RAM.
    pub fn set_guest_ram(&mut self, ram: GuestRam) {
        self.ram = Some(ram);
    }

    /// Runs `f` on device `i` with its context, then notes whether it
    /// left work for later.
    fn with_device<R>(
        &mut self,
        i: usize,
        f: impl FnOnce(&mut dyn Device, &mut Ctx<'_>) -> R,
    ) -> R {
        let dev = &mut self.devices[i];
        let slot = dev.pci().map(|f| f.slot);
        let mem = self.ram.as_ref().map(GuestRam::memory);
        let mut ctx = Ctx::new(&mut self.actions, slot).with_memory(mem);
        let r = f(dev.as_mut(), &mut ctx);
        if dev.has_deferred() && !self.deferred.contains(&i) {
            self.deferred.push(i);
        }
        r
    }

    fn call(&mut self, i: usize, a: Access, write: Option<u64>) -> u64 {
        self.with_device(i, |dev, ctx| match write {
            Some(v) => {
                dev.write(a, v, ctx);
                0
            }
            None => dev.read(a, ctx) & all_ones(a.size),
        })
    }

    /// Every device's doorbells ([`Device::doorbells`]): device, index, rule.
    pub fn doorbells(&self) -> Vec<(usize, usize, IoeventfdMatch)> {
        self.devices
            .iter()
            .enumerate()
            .flat_map(|(d, dev)| {
                dev.doorbells()
                    .into_iter()
                    .enumerate()
                    .map(move |(i, m)| (d, i, m))
            })
            .collect()
    }

    /// Doorbell `index` of device `device` rang.
    pub fn ring(&mut self, device: usize, index: usize) {
        if device < self.devices.len() {
            self.with_device(device, |dev, ctx| dev.doorbell(index, ctx));
        }
    }

    /// Whether a device left work for later ([`Device::has_deferred`]).
    pub fn has_deferred(&self) -> bool {
        !self.deferred.is_empty()
    }

    /// Gives each device that left work for later one bounded turn at it;
    /// returns whether work is left still.
    pub fn serve_deferred(&mut self) -> bool {
        let mem = self.ram.as_ref().map(GuestRam::memory);
        let devices = &mut self.devices;
        let actions = &mut self.actions;
        self.deferred.retain(|&i| {
            let slot = devices[i].pci().map(|f| f.slot);
            let mut ctx = Ctx::new(actions, slot).with_memory(mem);
            devices[i].serve_deferred(&mut ctx);
            devices[i].has_deferred()
        });
        !self.deferred.is_empty()
    }

    /// A port access: the value read (all ones where nothing answers).
    pub fn port(&mut self, port: u64, size: u8, write: Option<u64>) -> u64 {
        match self
            .ports
            .iter()
            .find(|(r, _)| r.contains(&port))
            .map(|(_, i)| *i)
        {
            Some(i) => self.call(
                i,
                Access {
                    space: Space::Port,
                    addr: port,
                    size,
                },
                write,
            ),
            None => all_ones(size),
        }
    }

    /// An MMIO access.
    pub fn mmio(&mut self, addr: u64, size: u8, write: Option<u64>) -> u64 {
        if let Some(i) = self
            .mmio
            .iter()
            .find(|(r, _)| r.contains(&addr))
            .map(|(_, i)| *i)
        {
            return self.call(
                i,
                Access {
                    space: Space::Mmio,
                    addr,
                    size,
                },
                write,
            );
        }
        if let Some((r, i, bar)) = self
            .bars
            .iter()
            .find(|(r, _, _)| r.contains(&addr))
            .cloned()
        {
            return self.call(
                i,
                Access {
                    space: Space::Bar(bar),
                    addr: addr - r.start(),
                    size,
                },
                write,
            );
        }
        all_ones(size)
    }

    /// A config-space access to `sbdf` (`XEN_DMOP_PCI_SBDF` packing),
    /// register `reg`; a write may move BARs.
    pub fn pci_config(
        &mut self,
        sbdf: u32,
        reg: u16,
        size: u8,
        write: Option<u32>,
    ) -> (u64, BarChange) {
        let (seg, bus, slot, func) = (
            sbdf >> 16,
            (sbdf >> 8) & 0xff,
            ((sbdf >> 3) & 0x1f) as u8,
            sbdf & 7,
        );
        let Some(&i) = self
            .pci
            .get(&slot)
            .filter(|_| seg == 0 && bus == 0 && func == 0)
        else {
            return (all_ones(size), BarChange::default());
        };
        let f = self.devices[i].pci().expect("registered as PCI");
        if f.in_window(reg, size) {
            let a = Access {
                space: Space::Config,
                addr: u64::from(reg),
                size,
            };
            return (self.call(i, a, write.map(u64::from)), BarChange::default());
        }
        match write {
            None => (u64::from(f.read(reg, size)), BarChange::default()),
            Some(v) => {
                f.write(reg, size, v);
                let mut placed: Vec<(RangeInclusive<u64>, u8)> = f
                    .bars()
                    .filter_map(|b| f.bar_range(b).map(|r| (r, b as u8)))
                    .collect();
                // A BAR over a fixed MMIO range or another device's BAR is
                // not decoded: claiming it would fail, and releasing it
                // later would release the other's claim.
                placed.retain(|(r, _)| {
                    !self.mmio.iter().any(|(m, _)| overlaps(m, r))
                        && !self.bars.iter().any(|(b, d, _)| *d != i && overlaps(b, r))
                });
                let old: Vec<RangeInclusive<u64>> = self
                    .bars
                    .iter()
                    .filter(|(_, d, _)| *d == i)
                    .map(|(r, _, _)| r.clone())
                    .collect();
                let new: Vec<RangeInclusive<u64>> = placed.iter().map(|(r, _)| r.clone()).collect();
                let change = BarChange {
                    unmapped: old.iter().filter(|r| !new.contains(r)).cloned().collect(),
                    mapped: new.iter().filter(|r| !old.contains(r)).cloned().collect(),
                };
                self.bars.retain(|(_, d, _)| *d != i);
                self.bars.extend(placed.into_iter().map(|(r, b)| (r, i, b)));
                (0, change)
            }
        }
    }
}
