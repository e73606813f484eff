// SPDX-License-Identifier: MIT
//! Where the board puts the devices that are not the test platform's: the
//! virtio-mmio slots, their interrupt lines, and what a guest is told to
//! find them.
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
