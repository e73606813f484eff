// SPDX-License-Identifier: MIT
//! The virtio-pci numbers xen-thin-dm uses (virtio-bindings has none),
//! checked by a compiler against Linux's `<linux/virtio_pci.h>`: the
//! capability types, `struct virtio_pci_cap`'s layout and the common
//! configuration's field offsets.

use std::process::Command;

use xen_thin_dm::virtio::pci::{self, common};

#[test]
fn the_virtio_pci_numbers_are_linuxs() {
    let dir = std::env::temp_dir().join(format!("xtdm-virtio-pci-abi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("probe.c");
    let bin = dir.join("probe");
    std::fs::write(
        &src,
        r#"
#include <stddef.h>
#include <stdio.h>
#include <linux/virtio_pci.h>
#define C(s, f) printf(#s "." #f " %zu\n", offsetof(struct s, f))
#define V(x) printf(#x " %lu\n", (unsigned long)(x))
int main(void)
{
	V(VIRTIO_PCI_CAP_COMMON_CFG); V(VIRTIO_PCI_CAP_NOTIFY_CFG);
	V(VIRTIO_PCI_CAP_ISR_CFG); V(VIRTIO_PCI_CAP_DEVICE_CFG); V(VIRTIO_PCI_CAP_PCI_CFG);
	V(sizeof(struct virtio_pci_cfg_cap)); C(virtio_pci_cfg_cap, pci_cfg_data);
	V(sizeof(struct virtio_pci_cap)); V(sizeof(struct virtio_pci_notify_cap));
	C(virtio_pci_cap, cap_len); C(virtio_pci_cap, cfg_type); C(virtio_pci_cap, bar);
	C(virtio_pci_cap, offset); C(virtio_pci_cap, length);
	C(virtio_pci_notify_cap, notify_off_multiplier);
	C(virtio_pci_common_cfg, device_feature_select); C(virtio_pci_common_cfg, device_feature);
	C(virtio_pci_common_cfg, guest_feature_select); C(virtio_pci_common_cfg, guest_feature);
	C(virtio_pci_common_cfg, msix_config); C(virtio_pci_common_cfg, num_queues);
	C(virtio_pci_common_cfg, device_status); C(virtio_pci_common_cfg, config_generation);
	C(virtio_pci_common_cfg, queue_select); C(virtio_pci_common_cfg, queue_size);
	C(virtio_pci_common_cfg, queue_msix_vector); C(virtio_pci_common_cfg, queue_enable);
	C(virtio_pci_common_cfg, queue_notify_off); C(virtio_pci_common_cfg, queue_desc_lo);
	C(virtio_pci_common_cfg, queue_avail_lo); C(virtio_pci_common_cfg, queue_used_lo);
	C(virtio_pci_common_cfg, queue_used_hi);
	V(VIRTIO_MSI_NO_VECTOR);
	return 0;
}
"#,
    )
    .unwrap();
    let cc = Command::new("cc")
        .arg("-o")
        .arg(&bin)
        .arg(&src)
        .output()
        .expect("a C compiler (cc)");
    assert!(
        cc.status.success(),
        "compiling against <linux/virtio_pci.h>: {}",
        String::from_utf8_lossy(&cc.stderr)
    );
    let out = Command::new(&bin).output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let got: std::collections::HashMap<String, u64> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(" ")?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect();
    let want: &[(&str, u64)] = &[
        ("VIRTIO_PCI_CAP_COMMON_CFG", pci::CAP_COMMON_CFG.into()),
        ("VIRTIO_PCI_CAP_NOTIFY_CFG", pci::CAP_NOTIFY_CFG.into()),
        ("VIRTIO_PCI_CAP_ISR_CFG", pci::CAP_ISR_CFG.into()),
        ("VIRTIO_PCI_CAP_DEVICE_CFG", pci::CAP_DEVICE_CFG.into()),
        ("VIRTIO_PCI_CAP_PCI_CFG", pci::CAP_PCI_CFG.into()),
        // The window: the cap, then pci_cfg_data at 16 (VirtioPci's copy
        // from cap.bar at 4 puts it at 12).
        ("sizeof(struct virtio_pci_cfg_cap)", 20),
        ("virtio_pci_cfg_cap.pci_cfg_data", 16),
        // The layout `cap_body` writes: len, type, bar at 2, 3, 4 (after
        // id and next), offset at 8, length at 12, the multiplier at 16.
        ("sizeof(struct virtio_pci_cap)", 16),
        ("sizeof(struct virtio_pci_notify_cap)", 20),
        ("virtio_pci_cap.cap_len", 2),
        ("virtio_pci_cap.cfg_type", 3),
        ("virtio_pci_cap.bar", 4),
        ("virtio_pci_cap.offset", 8),
        ("virtio_pci_cap.length", 12),
        ("virtio_pci_notify_cap.notify_off_multiplier", 16),
        (
            "virtio_pci_common_cfg.device_feature_select",
            common::DFSELECT,
        ),
        ("virtio_pci_common_cfg.device_feature", common::DF),
        (
            "virtio_pci_common_cfg.guest_feature_select",
            common::GFSELECT,
        ),
        ("virtio_pci_common_cfg.guest_feature", common::GF),
        ("virtio_pci_common_cfg.msix_config", common::MSIX),
        ("virtio_pci_common_cfg.num_queues", common::NUMQ),
        ("virtio_pci_common_cfg.device_status", common::STATUS),
        (
            "virtio_pci_common_cfg.config_generation",
            common::CFGGENERATION,
        ),
        ("virtio_pci_common_cfg.queue_select", common::Q_SELECT),
        ("virtio_pci_common_cfg.queue_size", common::Q_SIZE),
        ("virtio_pci_common_cfg.queue_msix_vector", common::Q_MSIX),
        ("virtio_pci_common_cfg.queue_enable", common::Q_ENABLE),
        ("virtio_pci_common_cfg.queue_notify_off", common::Q_NOFF),
        ("virtio_pci_common_cfg.queue_desc_lo", common::Q_DESCLO),
        ("virtio_pci_common_cfg.queue_avail_lo", common::Q_AVAILLO),
        ("virtio_pci_common_cfg.queue_used_lo", common::Q_USEDLO),
        (
            "virtio_pci_common_cfg.queue_used_hi",
            u64::from(pci::COMMON_LEN) - 4,
        ),
        ("VIRTIO_MSI_NO_VECTOR", 0xffff),
    ];
    for (name, ours) in want {
        assert_eq!(got.get(*name), Some(ours), "{name}");
    }
}
