// SPDX-License-Identifier: MIT
//! What a device is: the [`Device`] trait, the [`Ctx`] a device acts
//! through, and [`PciFunction`], a standard PCI configuration header with
//! BAR sizing, for devices that sit on PCI.
//!
//! A device never knows where it sits. It names its fixed regions by
//! kind and size ([`Device::regions`]); a board places them
//! ([`crate::Placed`], with the addresses of [`crate::board`] or
//! [`crate::testplatform`]), and the device sees each access as the
//! region's index and the offset in it, as it sees a BAR the guest
//! placed.

use std::ops::RangeInclusive;

use dmop_abi::dmop::ShutdownReason;
use vm_memory::GuestMemoryMmap;

/// Where an access lands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Space {
    /// Region `n` of [`Device::regions`], a range of I/O ports (the
    /// address is the offset in it).
    Port(u8),
    /// Region `n` of [`Device::regions`], a fixed MMIO range (the address
    /// is the offset in it).
    Mmio(u8),
    /// Memory BAR `n` of the device's PCI function (the address is the offset in it).
    Bar(u8),
    /// The config space of the device's PCI function, inside the window the
    /// device claimed ([`PciFunction::claim_window`]; the address is the
    /// register).
    Config,
}

/// A fixed region a device answers, by size; a board places it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Region {
    /// This many I/O ports.
    Ports(u64),
    /// This many bytes of MMIO.
    Mmio(u64),
}

/// One access of the guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    /// Where.
    pub space: Space,
    /// The offset in the region or BAR, or the config register.
    pub addr: u64,
    /// Bytes: 1, 2, 4 or 8.
    pub size: u8,
}

/// All ones of an access of `size` bytes: what reads of nothing return.
pub fn all_ones(size: u8) -> u64 {
    if size >= 8 {
        u64::MAX
    } else {
        (1u64 << (size * 8)) - 1
    }
}

/// Something a device asked for while handling an access; the server
/// carries it out after the device returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Set an ISA IRQ's level.
    IsaIrq(u8, bool),
    /// Set the level of an interrupt line of the guest's interrupt
    /// controller (on Arm, a GIC SPI: `set_irq_level`).
    Irq(u32, bool),
    /// Set the INTx pin of the PCI device in slot `0` of bus 0 (`1` = INTA).
    PciIntx(u8, u8, bool),
    /// Inject an MSI.
    Msi(u64, u32),
    /// Shut the guest down, with the exit code the guest gave.
    Shutdown(ShutdownReason, u32),
}

/// What a device acts through while it handles an access: interrupts and
/// shutdown.
#[derive(Debug)]
pub struct Ctx<'a> {
    pub(crate) actions: &'a mut Vec<Action>,
    pub(crate) pci_slot: Option<u8>,
    pub(crate) memory: Option<&'a GuestMemoryMmap>,
}

impl<'a> Ctx<'a> {
    /// A context collecting into `actions` (for tests of devices).
    pub fn new(actions: &'a mut Vec<Action>, pci_slot: Option<u8>) -> Self {
        Self {
            actions,
            pci_slot,
            memory: None,
        }
    }

    /// The same, with guest RAM for the device to reach.
    pub fn with_memory(mut self, memory: Option<&'a GuestMemoryMmap>) -> Self {
        self.memory = memory;
        self
    }

    /// The guest's RAM, when the device asked for it
    /// ([`Device::needs_guest_memory`]) and it is mapped.
    pub fn memory(&self) -> Option<&'a GuestMemoryMmap> {
        self.memory
    }

    /// Raises or lowers an ISA interrupt line.
    pub fn set_isa_irq(&mut self, irq: u8, level: bool) {
        self.actions.push(Action::IsaIrq(irq, level));
    }

    /// Raises or lowers an interrupt line of the guest's interrupt
    /// controller (an SPI of Arm's GIC).
    pub fn set_irq(&mut self, irq: u32, level: bool) {
        self.actions.push(Action::Irq(irq, level));
    }

    /// Raises or lowers the device's INTA line (PCI devices only).
    pub fn set_intx(&mut self, level: bool) {
        if let Some(slot) = self.pci_slot {
            self.actions.push(Action::PciIntx(slot, 0, level));
        }
    }

    /// Injects an MSI.
    pub fn inject_msi(&mut self, addr: u64, data: u32) {
        self.actions.push(Action::Msi(addr, data));
    }

    /// Shuts the guest down (`code` is reported by the device model).
    pub fn shutdown(&mut self, reason: ShutdownReason, code: u32) {
        self.actions.push(Action::Shutdown(reason, code));
    }
}

/// A device: names the regions it answers (and a PCI function) and
/// answers the guest's accesses to them.
///
/// Everything has a default but [`name`](Self::name): a device overrides
/// what it uses. See `examples/led_bank.rs` for one in about fifty lines.
pub trait Device: Send {
    /// A name for logs.
    fn name(&self) -> &str;

    /// Its fixed regions: port ranges and MMIO ranges by size, which a
    /// board places ([`crate::Placed`]). An access to region `n` arrives as
    /// [`Space::Port`]`(n)` or [`Space::Mmio`]`(n)` with the offset in it.
    fn regions(&self) -> Vec<Region> {
        Vec::new()
    }

    /// Its PCI function, if it is a PCI device. The server answers config
    /// space accesses from it and maps its memory BARs as the guest places
    /// them; accesses there arrive as [`Space::Bar`]. Config registers the
    /// device claimed ([`PciFunction::claim_window`]) arrive as
    /// [`Space::Config`], and only then: a device that claims none never
    /// sees that space.
    fn pci(&mut self) -> Option<&mut PciFunction> {
        None
    }

    /// A guest read: returns the value (`size` bytes).
    fn read(&mut self, access: Access, ctx: &mut Ctx<'_>) -> u64 {
        let _ = ctx;
        all_ones(access.size)
    }

    /// A guest write of `value` (`size` bytes).
    fn write(&mut self, access: Access, value: u64, ctx: &mut Ctx<'_>) {
        let _ = (access, value, ctx);
    }

    /// Whether it reads and writes guest RAM itself (virtio): the server
    /// then maps the guest's RAM at attach ([`crate::guest_ram`]) and
    /// hands it over in [`Ctx::memory`].
    fn needs_guest_memory(&self) -> bool {
        false
    }

    /// The descriptors the device holds (a log file...). The deprivileging
    /// refuses to finish while a descriptor nobody declared is open.
    fn fds(&self) -> Vec<std::os::fd::RawFd> {
        Vec::new()
    }

    /// Guest writes the device lets the kernel answer on its own, when the
    /// privcmd node offers ioeventfds (a virtio queue notify): the write
    /// completes at once and the device is told afterwards, through
    /// [`doorbell`](Self::doorbell) with the rule's index in this list.
    /// Where the node has none, the writes come as ordinary accesses.
    /// Each rule is in region `n` of [`regions`](Self::regions), its
    /// address an offset there (the machine adds where the region sits).
    fn doorbells(&self) -> Vec<(u8, xendevicemodel::IoeventfdMatch)> {
        Vec::new()
    }

    /// Doorbell `index` of [`doorbells`](Self::doorbells) rang (once or more
    /// since the last call).
    fn doorbell(&mut self, index: usize, ctx: &mut Ctx<'_>) {
        let _ = (index, ctx);
    }

    /// Whether the device left work for later: a device bounds what one
    /// access may cost (a virtio queue another vCPU keeps filling), and
    /// the server then calls [`serve_deferred`](Self::serve_deferred)
    /// between requests, without sleeping, until this is false.
    fn has_deferred(&self) -> bool {
        false
    }

    /// Does a bounded part of the work left for later.
    fn serve_deferred(&mut self, ctx: &mut Ctx<'_>) {
        let _ = ctx;
    }
}

const PCI_COMMAND: usize = 0x04;
const PCI_COMMAND_MEMORY: u16 = 1 << 1;
const PCI_BAR0: usize = 0x10;
const PCI_INTERRUPT_LINE: usize = 0x3c;
const PCI_INTERRUPT_PIN: usize = 0x3d;
/// Bits of the command register the guest may change: I/O and memory
/// decode, bus master, INTx disable.
const PCI_COMMAND_WRITABLE: u16 = 0x0407;

const PCI_STATUS: usize = 0x06;
const PCI_STATUS_CAP_LIST: u8 = 1 << 4;
const PCI_STATUS_INTERRUPT: u8 = 1 << 3;
const PCI_COMMAND_MASTER: u16 = 1 << 2;
const PCI_COMMAND_INTX_DISABLE: u16 = 1 << 10;
const PCI_SUBSYSTEM_VENDOR: usize = 0x2c;
const PCI_CAPABILITY_LIST: usize = 0x34;
/// Where the first capability goes (after the type 0 header).
const PCI_CAP_START: usize = 0x40;

/// A PCI function's configuration header (type 0) on bus 0, with up to six
/// 32-bit memory BARs that size themselves the standard way, and a list of
/// read-only capabilities.
#[derive(Clone, Debug)]
pub struct PciFunction {
    /// Its slot (device number) on bus 0.
    pub slot: u8,
    cfg: [u8; 256],
    bar_sizes: [u32; 6],
    /// Where the next capability goes; the last one's `next` byte.
    cap_end: usize,
    cap_last_next: Option<usize>,
    /// Registers the device answers itself ([`Space::Config`]); the
    /// windows do not overlap.
    windows: Vec<RangeInclusive<u16>>,
}

impl PciFunction {
    /// A function in `slot` with these ids and class code (24 bits).
    pub fn new(slot: u8, vendor: u16, device: u16, class: u32) -> Self {
        let mut cfg = [0u8; 256];
        cfg[0..2].copy_from_slice(&vendor.to_le_bytes());
        cfg[2..4].copy_from_slice(&device.to_le_bytes());
        cfg[0x09..0x0c].copy_from_slice(&class.to_le_bytes()[..3]);
        cfg[PCI_INTERRUPT_PIN] = 1; // INTA
        Self {
            slot: slot & 0x1f,
            cfg,
            bar_sizes: [0; 6],
            cap_end: PCI_CAP_START,
            cap_last_next: None,
            windows: Vec::new(),
        }
    }

    /// With revision `rev` and subsystem ids `vendor`, `id`.
    pub fn with_ids(mut self, rev: u8, vendor: u16, id: u16) -> Self {
        self.cfg[0x08] = rev;
        self.cfg[PCI_SUBSYSTEM_VENDOR..PCI_SUBSYSTEM_VENDOR + 2]
            .copy_from_slice(&vendor.to_le_bytes());
        self.cfg[PCI_SUBSYSTEM_VENDOR + 2..PCI_SUBSYSTEM_VENDOR + 4]
            .copy_from_slice(&id.to_le_bytes());
        self
    }

    /// With interrupt pin `pin` (1 = INTA, the default; 0: none).
    pub fn with_interrupt_pin(mut self, pin: u8) -> Self {
        self.cfg[PCI_INTERRUPT_PIN] = pin;
        self
    }

    /// With its interrupt line register preset to `irq` (what firmware
    /// would have written: the ISA IRQ its INTx is routed to).
    pub fn with_interrupt_line(mut self, irq: u8) -> Self {
        self.cfg[PCI_INTERRUPT_LINE] = irq;
        self
    }

    /// Appends capability `id` with `body` (the bytes after its id and
    /// next pointer) to the list; returns its offset in config space.
    /// Panics if config space is full (the device's own layout, fixed at
    /// build time).
    ///
    /// ```
    /// use xen_thin_dm::PciFunction;
    /// let mut f = PciFunction::new(4, 0x1af4, 0x1042, 0x018000);
    /// let a = f.add_capability(0x09, &[16, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    /// let b = f.add_capability(0x09, &[16, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    /// assert_eq!((a, b), (0x40, 0x50));
    /// assert_eq!(f.read(0x34, 1), 0x40, "the list's head");
    /// assert_eq!(f.read(0x41, 1), 0x50, "the first points at the second");
    /// assert_eq!(f.read(0x51, 1), 0, "the last ends it");
    /// assert_eq!(f.read(0x06, 2) & 0x10, 0x10, "the status says there is a list");
    /// ```
    pub fn add_capability(&mut self, id: u8, body: &[u8]) -> u8 {
        let at = self.cap_end;
        let end = at + 2 + body.len();
        assert!(
            end <= self.cfg.len(),
            "PCI capabilities beyond config space"
        );
        self.cfg[at] = id;
        self.cfg[at + 1] = 0;
        self.cfg[at + 2..end].copy_from_slice(body);
        match self.cap_last_next {
            Some(next) => self.cfg[next] = at as u8,
            None => {
                self.cfg[PCI_CAPABILITY_LIST] = at as u8;
                self.cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
            }
        }
        self.cap_last_next = Some(at + 1);
        // Capabilities start on a dword.
        self.cap_end = end.next_multiple_of(4);
        at as u8
    }

    /// Adds a 32-bit memory BAR of `size` bytes (a power of two, at least 16).
    pub fn with_memory_bar(mut self, index: usize, size: u32) -> Self {
        assert!(
            index < 6 && size.is_power_of_two() && size >= 16,
            "a BAR is a power of two of at least 16 bytes"
        );
        self.bar_sizes[index] = size;
        self
    }

    /// Reads `size` bytes of config space at `reg`.
    pub fn read(&self, reg: u16, size: u8) -> u32 {
        let mut v = 0u32;
        for i in 0..u16::from(size.min(4)) {
            let r = usize::from(reg + i);
            v |= u32::from(self.cfg.get(r).copied().unwrap_or(0xff)) << (8 * i);
        }
        v
    }

    /// Writes `size` bytes of config space at `reg`; read-only registers
    /// keep their value, BARs keep only their address bits.
    pub fn write(&mut self, reg: u16, size: u8, value: u32) {
        for i in 0..u16::from(size.min(4)) {
            let r = usize::from(reg + i);
            let b = (value >> (8 * i)) as u8;
            match r {
                0x04 | 0x05 => {
                    let cur =
                        u16::from_le_bytes([self.cfg[PCI_COMMAND], self.cfg[PCI_COMMAND + 1]]);
                    let shift = (r - PCI_COMMAND) * 8;
                    let new = (cur & !(0xff << shift)) | (u16::from(b) << shift);
                    let keep = (cur & !PCI_COMMAND_WRITABLE) | (new & PCI_COMMAND_WRITABLE);
                    self.cfg[PCI_COMMAND..PCI_COMMAND + 2].copy_from_slice(&keep.to_le_bytes());
                }
                0x10..=0x27 => {
                    let bar = (r - PCI_BAR0) / 4;
                    let byte = (r - PCI_BAR0) % 4;
                    let size = self.bar_sizes[bar];
                    // Address bits only; an absent BAR reads zero.
                    let mask = if size == 0 { 0 } else { !(size - 1) };
                    self.cfg[r] = b & (mask >> (8 * byte)) as u8;
                }
                PCI_INTERRUPT_LINE => self.cfg[r] = b,
                _ => {}
            }
        }
    }

    /// Where memory BAR `index` is, if the guest placed it and enabled
    /// memory decoding.
    pub fn bar_range(&self, index: usize) -> Option<RangeInclusive<u64>> {
        let size = *self.bar_sizes.get(index)?;
        let command = u16::from_le_bytes([self.cfg[PCI_COMMAND], self.cfg[PCI_COMMAND + 1]]);
        let at = PCI_BAR0 + index * 4;
        let base = u32::from_le_bytes(self.cfg[at..at + 4].try_into().ok()?);
        (size != 0 && command & PCI_COMMAND_MEMORY != 0 && base != 0)
            .then(|| u64::from(base)..=u64::from(base) + u64::from(size) - 1)
    }

    /// The command register.
    pub fn command(&self) -> u16 {
        u16::from_le_bytes([self.cfg[PCI_COMMAND], self.cfg[PCI_COMMAND + 1]])
    }

    /// Whether the guest let the function master the bus (DMA: a virtio
    /// device reaching guest RAM).
    pub fn bus_master(&self) -> bool {
        self.command() & PCI_COMMAND_MASTER != 0
    }

    /// Whether the guest disabled the function's INTx.
    pub fn intx_disabled(&self) -> bool {
        self.command() & PCI_COMMAND_INTX_DISABLE != 0
    }

    /// Sets the status register's Interrupt Status bit (the function's
    /// INTx is asserted, whether or not it is disabled).
    pub fn set_interrupt_status(&mut self, on: bool) {
        if on {
            self.cfg[PCI_STATUS] |= PCI_STATUS_INTERRUPT;
        } else {
            self.cfg[PCI_STATUS] &= !PCI_STATUS_INTERRUPT;
        }
    }

    /// Memory BARs the function has.
    pub fn bars(&self) -> impl Iterator<Item = usize> + '_ {
        (0..6).filter(|&i| self.bar_sizes[i] != 0)
    }

    /// Hands the registers `range` (inside the capabilities, past the
    /// standard header) to the device: accesses wholly inside reach its
    /// `read`/`write` as [`Space::Config`] instead of this header.
    ///
    /// # Panics
    ///
    /// If `range` reaches into the standard header (below 0x40) or past
    /// config space, or overlaps a window claimed before: a device bug.
    pub fn claim_window(&mut self, range: RangeInclusive<u16>) {
        assert!(
            *range.start() >= 0x40 && *range.end() < 0x100 && range.start() <= range.end(),
            "config window {range:#x?} outside the capabilities"
        );
        assert!(
            !self
                .windows
                .iter()
                .any(|w| w.start() <= range.end() && range.start() <= w.end()),
            "config window {range:#x?} overlaps another"
        );
        self.windows.push(range);
    }

    /// Whether an access of `size` bytes at `reg` is wholly inside one of
    /// the device's windows.
    pub fn in_window(&self, reg: u16, size: u8) -> bool {
        let last = reg.checked_add(u16::from(size.max(1)) - 1);
        self.windows
            .iter()
            .any(|w| w.contains(&reg) && last.is_some_and(|l| w.contains(&l)))
    }

    /// Sets capability bytes the device keeps itself (in a window it
    /// claimed), so that an access that straddles the window's edge, and
    /// so reads the header's copy, sees them as the device does.
    ///
    /// # Panics
    ///
    /// If the bytes are not all inside a claimed window: a device bug.
    pub fn set_window_bytes(&mut self, at: u16, bytes: &[u8]) {
        let end = at as usize + bytes.len();
        assert!(
            bytes.is_empty()
                || self
                    .windows
                    .iter()
                    .any(|w| w.contains(&at) && w.contains(&((end - 1) as u16))),
            "config bytes {at:#x}+{} outside the device's windows",
            bytes.len()
        );
        self.cfg[at as usize..end].copy_from_slice(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_size_themselves_and_decode_only_when_enabled() {
        let mut f = PciFunction::new(3, 0x1234, 0x11e5, 0xff0000).with_memory_bar(0, 0x1000);
        assert_eq!(f.read(0, 4), 0x11e5_1234);
        f.write(0x10, 4, 0xffff_ffff);
        assert_eq!(!(f.read(0x10, 4)) + 1, 0x1000, "sizing");
        f.write(0x10, 4, 0xfe00_0123);
        assert_eq!(f.read(0x10, 4), 0xfe00_0000, "address bits only");
        assert_eq!(f.bar_range(0), None, "memory decode off");
        f.write(0x04, 2, 0xffff);
        assert_eq!(
            f.read(0x04, 2),
            u32::from(PCI_COMMAND_WRITABLE),
            "only the writable command bits"
        );
        assert_eq!(f.bar_range(0), Some(0xfe00_0000..=0xfe00_0fff));
        assert_eq!(f.read(0x14, 4), 0, "no BAR1");
        f.write(0x00, 4, 0);
        assert_eq!(f.read(0, 2), 0x1234, "ids are read-only");
        assert_eq!(f.read(0x3d, 1), 1, "INTA");
    }
}
