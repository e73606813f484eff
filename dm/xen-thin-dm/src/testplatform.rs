// SPDX-License-Identifier: MIT
//! The test platform: the devices and addresses the project's test guest
//! (a 32-bit HVM firmware, `tests/guests/guest.c`) expects. Standard PC
//! ports where there is a standard, the project's test devices otherwise.
//! This module is their one definition: the device model's devices take
//! them from here, and the test bed writes the guest's C header from
//! [`c_header`], so guest and device model cannot disagree.
//!
//! ```
//! use xen_thin_dm::testplatform;
//!
//! let h = testplatform::c_header();
//! assert!(h.contains("#define TG_COM1 0x3f8"));
//! assert_eq!((testplatform::SCRATCH_ID as u32).to_le_bytes(), *b"XDD!");
//! ```

use std::fmt::Write as _;

/// One value of the platform: its C name without `TG_`, its value, what it is.
struct Def(&'static str, u64, &'static str);

macro_rules! platform {
    ($($(#[doc = $doc:literal])+ $name:ident = $value:expr;)+) => {
        $( $(#[doc = $doc])+ pub const $name: u64 = $value; )+
        const DEFS: &[Def] = &[$(Def(stringify!($name), $name, concat!($($doc),+))),+];
    };
}

platform! {
    /// The 16550 UART (COM1).
    COM1 = 0x3f8;
    /// Xen's debug port, answered by Xen itself: shows in `xl dmesg`.
    XEN_DEBUG_PORT = 0xe9;
    /// Write a 16-bit code: the device model shuts the guest down.
    DEBUG_EXIT_PORT = 0x501;
    /// Four bytes of scratch register file (the scratch device).
    SCRATCH_PORT = 0x700;
    /// Reads the scratch device's id (`SCRATCH_ID`) when the device is there.
    SCRATCH_ID_PORT = 0x704;
    /// The scratch device's id, "XDD!" little-endian.
    SCRATCH_ID = 0x2144_4458;
    /// The scratch device's 4 KiB MMIO page.
    SCRATCH_MMIO = 0xfe80_0000;
    /// The unofficial PCI vendor id emulators use for test hardware.
    PCI_VENDOR = 0x1234;
    /// The counter/scratch PCI device.
    PCI_DEVICE = 0x11e5;
    /// Port round trips the benchmark guest times.
    BENCH_ROUNDS = 20000;
    /// Then as many dword writes here (a virtio notify).
    BENCH_NOTIFY = 0xfe80_0040;
    /// The guest's exit code for success (through the debug-exit port).
    EXIT_SUCCESS = 0;
    /// The guest's exit code for failure.
    EXIT_FAILURE = 1;
}

/// `testguest.h`: every value above as `#define TG_<NAME> <value>`, for the
/// test guest's C sources. Numbers at or above 2^31 get a `u` suffix.
pub fn c_header() -> String {
    let mut h = String::from(
        "/* SPDX-License-Identifier: MIT */\n\
         /* Generated from xen-thin-dm's testplatform module: do not edit. */\n\
         #ifndef XDM_TESTGUEST_H\n#define XDM_TESTGUEST_H\n\n",
    );
    for Def(name, value, doc) in DEFS {
        let suffix = if *value >= 1 << 31 { "u" } else { "" };
        let value = if *value >= 10 {
            format!("{value:#x}{suffix}")
        } else {
            format!("{value}{suffix}")
        };
        // A doc never closes the C comment early.
        let doc = doc.trim().replace("*/", "* /");
        let _ = writeln!(h, "/* {doc} */\n#define TG_{name} {value}");
    }
    h.push_str("\n#endif\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `#define` reads back, as C would, to its constant.
    #[test]
    fn header_reads_back() {
        let h = c_header();
        let mut seen = 0;
        for line in h.lines().filter(|l| l.starts_with("#define TG_")) {
            let mut w = line.split_whitespace().skip(1);
            let (name, v) = (w.next().unwrap(), w.next().unwrap());
            let v = v.trim_end_matches('u');
            let v = match v.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16).unwrap(),
                None => v.parse().unwrap(),
            };
            let def = DEFS.iter().find(|d| format!("TG_{}", d.0) == name).unwrap();
            assert_eq!(v, def.1, "{name}");
            assert!(v < 1 << 31 || line.ends_with('u'), "{line}: unsigned in C");
            seen += 1;
        }
        assert_eq!(seen, DEFS.len());
        assert!(h.contains("#define TG_SCRATCH_MMIO 0xfe800000u"));
    }
}
