// SPDX-License-Identifier: MIT
//! The machine: routes a guest's accesses to the devices that claim them
//! (the regions a board placed, PCI configuration space, the BARs the
//! guest placed), as the region and the offset in it. No Xen involved, so
//! it is unit tested on its own.

use std::collections::HashMap;
use std::ops::RangeInclusive;

use xendevicemodel::IoeventfdMatch;

use crate::device::{all_ones, Access, Action, Ctx, Device, Region, Space};
use crate::guest_ram::GuestRam;

use super::Error;

/// A device and where a board put its fixed regions.
pub struct Placed {
    device: Box<dyn Device>,
    bases: Vec<u64>,
}

impl Placed {
    /// `device` with its [`Device::regions`] at `bases`, in the same order.
    ///
    /// ```
    /// use xen_thin_dm::devices::DebugExit;
    /// use xen_thin_dm::{Machine, Placed};
    ///
    /// let m = Machine::new(vec![Placed::at(DebugExit::new(), &[0x501])])?;
    /// assert_eq!(m.port_ranges(), vec![0x501..=0x502]);
    /// # Ok::<(), xen_thin_dm::Error>(())
    /// ```
    pub fn at(device: impl Device + 'static, bases: &[u64]) -> Self {
        Self::boxed(Box::new(device), bases)
    }

    /// The same, for a device already boxed.
    pub fn boxed(device: Box<dyn Device>, bases: &[u64]) -> Self {
        Self {
            device,
            bases: bases.to_vec(),
        }
    }

    /// A device without fixed regions (one on PCI: the guest places its
    /// BARs).
    pub fn pci(device: impl Device + 'static) -> Self {
        Self::at(device, &[])
    }
}

/// The devices and where each answers.
pub struct Machine {
    devices: Vec<Box<dyn Device>>,
    /// Each device's regions and where they sit, in [`Device::regions`]'s
    /// order.
    bases: Vec<Vec<(Region, u64)>>,
    /// Placed port ranges: range, device, region.
    ports: Vec<(RangeInclusive<u64>, usize, u8)>,
    /// Placed MMIO ranges: range, device, region.
    mmio: Vec<(RangeInclusive<u64>, usize, u8)>,
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
    /// A machine of the `placed` devices; fails if a device was given
    /// another number of places than it has regions, a region is empty or
    /// runs past the end of the address space, two overlap, or two devices
    /// share a PCI slot.
    pub fn new(placed: Vec<Placed>) -> Result<Self, Error> {
        let mut ports: Vec<(RangeInclusive<u64>, usize, u8)> = Vec::new();
        let mut mmio: Vec<(RangeInclusive<u64>, usize, u8)> = Vec::new();
        let mut pci = HashMap::new();
        let mut devices = Vec::new();
        let mut bases = Vec::new();
        for (
            i,
            Placed {
                mut device,
                bases: at,
            },
        ) in placed.into_iter().enumerate()
        {
            let d = &mut device;
            let regions = d.regions();
            if regions.len() != at.len() || regions.len() > usize::from(u8::MAX) {
                return Err(Error(format!(
                    "{} has {} regions, placed at {}",
                    d.name(),
                    regions.len(),
                    at.len()
                )));
            }
            for (k, (region, &base)) in regions.iter().zip(&at).enumerate() {
                let (len, list, what) = match *region {
                    Region::Ports(n) => (n, &mut ports, "ports"),
                    Region::Mmio(n) => (n, &mut mmio, "MMIO"),
                };
                let Some(end) = len.checked_sub(1).and_then(|l| base.checked_add(l)) else {
                    return Err(Error(format!(
                        "{what} of {} at {base:#x}: {len} bytes do not fit",
                        d.name()
                    )));
                };
                if what == "ports" && end > 0xffff {
                    return Err(Error(format!(
                        "ports of {} at {base:#x}: past port 0xffff",
                        d.name()
                    )));
                }
                let r = base..=end;
                if let Some((o, j, _)) = list.iter().find(|(o, _, _)| overlaps(o, &r)) {
                    return Err(Error(format!(
                        "{what} {r:#x?} of {} overlap {o:#x?} of device {j}",
                        d.name()
                    )));
                }
                list.push((r, i, k as u8));
            }
            if let Some(f) = d.pci() {
                if pci.insert(f.slot, i).is_some() {
                    return Err(Error(format!("two devices in PCI slot {}", f.slot)));
                }
            }
            devices.push(device);
            bases.push(regions.into_iter().zip(at).collect());
        }
        Ok(Self {
            devices,
            bases,
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
        self.ports.iter().map(|(r, _, _)| r.clone()).collect()
    }

    /// Fixed MMIO ranges to claim.
    pub fn mmio_ranges(&self) -> Vec<RangeInclusive<u64>> {
        self.mmio.iter().map(|(r, _, _)| r.clone()).collect()
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

    /// Every device's doorbells ([`Device::doorbells`]): device, index,
    /// and the rule at the guest address its region sits at. A rule that is
    /// not inside an MMIO region of the device (ioeventfds are for MMIO
    /// writes), or that would wrap, is left out: its writes come as
    /// ordinary accesses.
    pub fn doorbells(&self) -> Vec<(usize, usize, IoeventfdMatch)> {
        let mut v = Vec::new();
        for (d, dev) in self.devices.iter().enumerate() {
            for (i, (region, rule)) in dev.doorbells().into_iter().enumerate() {
                let placed = match self.bases[d].get(usize::from(region)) {
                    // Inside the region (its write as an offset), then moved
                    // to where the region sits.
                    Some(&(Region::Mmio(len), base))
                        if rule.written().is_some_and(|(at, n)| {
                            at.checked_add(u64::from(n)).is_some_and(|end| end <= len)
                        }) =>
                    {
                        rule.moved(base)
                    }
                    _ => None,
                };
                if let Some(rule) = placed {
                    v.push((d, i, rule));
                }
            }
        }
        v
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
            .find(|(r, _, _)| r.contains(&port))
            .map(|(r, i, k)| (*r.start(), *i, *k))
        {
            Some((start, i, k)) => self.call(
                i,
                Access {
                    space: Space::Port(k),
                    addr: port - start,
                    size,
                },
                write,
            ),
            None => all_ones(size),
        }
    }

    /// An MMIO access.
    pub fn mmio(&mut self, addr: u64, size: u8, write: Option<u64>) -> u64 {
        if let Some((start, i, k)) = self
            .mmio
            .iter()
            .find(|(r, _, _)| r.contains(&addr))
            .map(|(r, i, k)| (*r.start(), *i, *k))
        {
            return self.call(
                i,
                Access {
                    space: Space::Mmio(k),
                    addr: addr - start,
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
        // A write across a window's edge (a dword at an MSI-X capability,
        // whose message control is the device's): the window's bytes go
        // to the device one by one, the rest to the header (where
        // capability bytes are read-only).
        if let Some(v) = write {
            let inside: Vec<u16> = (0..u16::from(size.min(4)))
                .filter_map(|b| reg.checked_add(b))
                .filter(|&r| f.in_window(r, 1))
                .collect();
            for r in inside {
                let byte = (v >> (8 * (r - reg))) & 0xff;
                let a = Access {
                    space: Space::Config,
                    addr: u64::from(r),
                    size: 1,
                };
                self.call(i, a, Some(u64::from(byte)));
            }
        }
        let f = self.devices[i].pci().expect("registered as PCI");
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
                    !self.mmio.iter().any(|(m, _, _)| overlaps(m, r))
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
