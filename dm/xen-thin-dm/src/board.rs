// SPDX-License-Identifier: MIT
//! Where the board puts the devices that are not the test platform's
//! (devices know only their regions' sizes; the board's addresses place
//! them, see [`crate::Placed`]): COM1, the PCI configuration address
//! register, the virtio-mmio slots, their interrupt lines, and what a
//! guest is told to find them; the virtio-pci slots, the host bridge, and
//! the PCI links' ISA IRQs.
//!
//! The window sits below the IOAPIC (0xfec00000) and above the test
//! platform's scratch page (0xfe800000 and up), in the part of the 4 GiB
//! hole that neither Xen (LAPIC, IOAPIC, HPET, its special pages near
//! 0xfeff0000) nor hvmloader's PCI window uses. The lines are ISA IRQs no
//! device of the machine drives: not COM1's 4, Xen's RTC's 8 or the ACPI
//! SCI's 9, and not 5, 10 or 11, which hvmloader routes Xen's PCI INTx
//! links to (`PCI_ISA_IRQ_MASK`, 0x0c20): a PCI device's level-triggered
//! interrupt would share the line with an edge the transport pulses.

/// COM1's ports (8, from here), where a PC has its first UART.
pub const COM1: u64 = 0x3f8;
/// The PCI configuration address register (4 ports, from here), which
/// the host bridge answers.
pub const PCI_CONFIG_ADDRESS: u64 = 0xcf8;

/// The first virtio-mmio slot.
pub const VIRTIO_MMIO_BASE: u64 = 0xfe00_0000;
/// Bytes between slots (one register window each).
pub const VIRTIO_MMIO_STRIDE: u64 = 0x1000;
/// The ISA interrupt line of each slot.
pub const VIRTIO_MMIO_IRQS: [u8; 4] = [6, 7, 12, 14];

/// Slot `n`'s base address and interrupt line.
///
/// ```
/// assert_eq!(xen_thin_dm::board::virtio_mmio_slot(1), Some((0xfe00_1000, 7)));
/// assert_eq!(xen_thin_dm::board::virtio_mmio_slot(4), None);
/// ```
pub fn virtio_mmio_slot(n: usize) -> Option<(u64, u8)> {
    let irq = *VIRTIO_MMIO_IRQS.get(n)?;
    Some((VIRTIO_MMIO_BASE + n as u64 * VIRTIO_MMIO_STRIDE, irq))
}

/// The host bridge's PCI slot (00:00.0), present when devices sit on PCI.
pub const HOST_BRIDGE_SLOT: u8 = 0;
/// The PCI slots of virtio-pci devices, on bus 0 (slot 3 is the test
/// platform's PCI counter, left out with virtio-pci: slot 7 shares its link).
pub const VIRTIO_PCI_SLOTS: [u8; 4] = [4, 5, 6, 7];
/// The ISA IRQ each PCI INTx link is routed to (`set_pci_link_route`), as
/// hvmloader routes them (5, 10, 11) and 15 for the fourth: Xen sends a
/// slot's INTA to link `slot & 3`.
pub const PCI_LINK_IRQS: [u8; 4] = [5, 10, 11, 15];

/// virtio-pci device `n`'s slot, the PCI link its INTA goes to, and that
/// link's ISA IRQ.
///
/// ```
/// assert_eq!(xen_thin_dm::board::virtio_pci_slot(0), Some((4, 0, 5)));
/// assert_eq!(xen_thin_dm::board::virtio_pci_slot(3), Some((7, 3, 15)));
/// assert_eq!(xen_thin_dm::board::virtio_pci_slot(4), None);
/// ```
pub fn virtio_pci_slot(n: usize) -> Option<(u8, u8, u8)> {
    let slot = *VIRTIO_PCI_SLOTS.get(n)?;
    let link = slot & 3;
    Some((slot, link, PCI_LINK_IRQS[usize::from(link)]))
}

/// The machine a guest sees, by the architecture Xen runs it on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Board {
    /// An x86 HVM guest: the test platform's port devices, virtio on
    /// virtio-mmio slots with ISA lines (named on the guest's command
    /// line) or on PCI.
    X86,
    /// A guest on Arm: nothing but virtio-mmio devices in the slots libxl
    /// describes in the guest's device tree ([`arm_virtio_mmio_slot`]),
    /// interrupts on GIC SPIs, RAM where Xen's Arm guest layout puts it
    /// ([`arm_ram_frames`]).
    Arm,
}

impl Board {
    /// The board of guests on the architecture this program was built for
    /// (a device model runs in dom0, on the guest's architecture).
    pub const NATIVE: Board = if cfg!(target_arch = "aarch64") {
        Board::Arm
    } else {
        Board::X86
    };
}

/// The first virtio-mmio slot of an Arm guest (Xen's public
/// `GUEST_VIRTIO_MMIO_BASE`), where libxl puts the first virtio disk.
pub const ARM_VIRTIO_MMIO_BASE: u64 = 0x0200_0000;
/// The bytes of guest-physical space libxl reserves for virtio-mmio on Arm
/// (`GUEST_VIRTIO_MMIO_SIZE`).
pub const ARM_VIRTIO_MMIO_SIZE: u64 = 0x0010_0000;
/// Bytes between slots: libxl gives each device 0x200.
pub const ARM_VIRTIO_MMIO_STRIDE: u64 = 0x200;
/// The GIC SPIs libxl gives virtio-mmio devices, in order
/// (`GUEST_VIRTIO_MMIO_SPI_FIRST` to `_LAST`).
pub const ARM_VIRTIO_MMIO_SPIS: std::ops::RangeInclusive<u32> = 33..=43;

/// Slot `n` of an Arm guest: what libxl gives the `n`th virtio disk of its
/// configuration (base address and SPI), in the order it allocates them.
///
/// ```
/// use xen_thin_dm::board::arm_virtio_mmio_slot;
/// assert_eq!(arm_virtio_mmio_slot(0), Some((0x0200_0000, 33)));
/// assert_eq!(arm_virtio_mmio_slot(1), Some((0x0200_0200, 34)));
/// assert_eq!(arm_virtio_mmio_slot(10), Some((0x0200_1400, 43)));
/// assert_eq!(arm_virtio_mmio_slot(11), None);
/// ```
pub fn arm_virtio_mmio_slot(n: usize) -> Option<(u64, u32)> {
    let spi = ARM_VIRTIO_MMIO_SPIS
        .start()
        .checked_add(u32::try_from(n).ok()?)?;
    let base = ARM_VIRTIO_MMIO_BASE + n as u64 * ARM_VIRTIO_MMIO_STRIDE;
    (ARM_VIRTIO_MMIO_SPIS.contains(&spi)
        && base + ARM_VIRTIO_MMIO_STRIDE <= ARM_VIRTIO_MMIO_BASE + ARM_VIRTIO_MMIO_SIZE)
        .then_some((base, spi))
}

/// An Arm guest's RAM banks (Xen's public `GUEST_RAM0_BASE`/`_SIZE` and
/// `GUEST_RAM1_BASE`/`_SIZE`): the domain builder fills the first, then
/// the second.
pub const ARM_RAM_BANKS: [(u64, u64); 2] = [
    (0x4000_0000, 0xc000_0000),
    (0x0002_0000_0000, 0x00fe_0000_0000),
];

/// The frames of an Arm guest with `bytes` of RAM, as the domain builder
/// lays them out: the first bank, then the second.
///
/// ```
/// use xen_thin_dm::board::arm_ram_frames;
/// assert_eq!(arm_ram_frames(64 << 20), vec![0x40000..0x44000]);
/// assert_eq!(arm_ram_frames(4 << 30), vec![0x40000..0x100000, 0x200000..0x240000]);
/// ```
pub fn arm_ram_frames(bytes: u64) -> Vec<std::ops::Range<u64>> {
    let mut left = bytes >> 12;
    let mut v = Vec::new();
    for (base, size) in ARM_RAM_BANKS {
        let n = left.min(size >> 12);
        if n > 0 {
            v.push(base >> 12..(base >> 12) + n);
        }
        left -= n;
    }
    v
}
