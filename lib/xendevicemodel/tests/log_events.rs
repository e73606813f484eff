// SPDX-License-Identifier: MIT
//! With the `log` feature: a descriptor `restrict_all` cannot confine is
//! reported as a warning, target `xendevicemodel`, saying what became of it.
#![cfg(feature = "log")]

use std::sync::Mutex;

use dmop_abi::types::DomId;
use xendevicemodel::{restrict_all, DeviceModel};

static SEEN: Mutex<Vec<(log::Level, String, String)>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, r: &log::Record<'_>) {
        SEEN.lock()
            .unwrap()
            .push((r.level(), r.target().to_string(), r.args().to_string()));
    }
    fn flush(&self) {}
}

#[test]
fn an_unconfined_descriptor_is_a_warning() {
    log::set_logger(&Capture).unwrap();
    log::set_max_level(log::LevelFilter::Trace);
    // /dev/null takes no RESTRICT ioctl (ENOTTY): it cannot be confined.
    let dm = DeviceModel::from_fd(std::fs::File::open("/dev/null").unwrap().into());
    let err = restrict_all(DomId(7)).unwrap_err();
    assert_eq!(err.failures.len(), 1);
    let seen = SEEN.lock().unwrap();
    let hit = seen.iter().find(|(l, t, m)| {
        *l == log::Level::Warn
            && t == "xendevicemodel"
            && m.contains("restrict_all(7)")
            && m.contains("/dev/null")
    });
    assert!(hit.is_some(), "no warning among {seen:?}");
    assert!(hit.unwrap().2.contains("replaced by /dev/null"), "{seen:?}");
    drop(dm);
}
