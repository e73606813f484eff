// SPDX-License-Identifier: MIT
//! Where the board puts the devices that are not the test platform's: the
//! virtio-mmio slots, their interrupt lines, and what a guest is told to
//! find them; the virtio-pci slots, the host bridge, and the PCI links'
//! ISA IRQs.
//!
//! The window sits below the IOAPIC (0xfec00000) and above the test
//! platform's scratch page (0xfe800000 and up), in the part of the 4 GiB
//! hole that neither Xen (LAPIC, IOAPIC, HPET, its special pages near
//! 0xfeff0000) nor hvmloader's PCI window uses. The lines are ISA IRQs no
//! device of the machine drives: not COM1's 4, Xen's RTC's 8 or the ACPI
//! SCI's 9, and not 5, 10 or 11, which hvmloader routes Xen's PCI INTx
//! links to (`PCI_ISA_IRQ_MASK`, 0x0c20): a PCI device's level-triggered
//! interrupt would share the line with an edge the transport pulses.

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
