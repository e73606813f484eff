// SPDX-License-Identifier: MIT
//! Driving the toolstack: xl and xenstore commands, test guests.

use std::process::Command;

use dmop_abi::types::DomId;

/// Runs a command; returns whether it succeeded and its stdout+stderr.
pub fn run(prog: &str, args: &[&str]) -> (bool, String) {
    let (ok, out, err) = run3(prog, args);
    (ok, format!("{out}{err}"))
}

/// Runs a command; returns whether it succeeded, its stdout and its stderr.
pub fn run3(prog: &str, args: &[&str]) -> (bool, String, String) {
    match Command::new(prog).args(args).output() {
        Ok(o) => (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        ),
        Err(e) => (false, String::new(), format!("cannot run {prog}: {e}")),
    }
}

/// The placeholder device model for guests created without xen-thin-dm
/// (`$XDM_FAKE_DM` overrides, for running on a real Xen host).
pub fn fake_dm_path() -> String {
    std::env::var("XDM_FAKE_DM").unwrap_or_else(|_| crate::contract::FAKE_DM.into())
}

/// The test guest, loaded as HVM firmware (`$XDM_TEST_GUEST` overrides).
pub fn test_guest_path() -> String {
    std::env::var("XDM_TEST_GUEST").unwrap_or_else(|_| crate::contract::TEST_GUEST.into())
}

/// A guest created for a test; destroyed when dropped.
#[derive(Debug)]
pub struct Guest {
    /// Its name in xl.
    pub name: String,
    /// Its domain id.
    pub domid: DomId,
}

/// The benchmark guest (`$XDM_BENCH_GUEST` overrides).
pub fn bench_guest_path() -> String {
    std::env::var("XDM_BENCH_GUEST").unwrap_or_else(|_| crate::contract::BENCH_GUEST.into())
}

/// Whether dom0 is auto-translated (Arm's, x86 PVH): Xen's feature bit
/// XENFEAT_auto_translated_physmap (2) in `/sys/hypervisor/properties/features`.
/// Its mapping paths differ from a PV dom0's.
pub fn auto_translated() -> bool {
    std::fs::read_to_string("/sys/hypervisor/properties/features")
        .ok()
        .and_then(|f| u64::from_str_radix(f.trim(), 16).ok())
        .is_some_and(|f| f & (1 << 2) != 0)
}

/// The buffered-ioreq mode the suites create ioreq servers with: atomic
/// on x86; off on Arm, whose Xen has no buffered ioreqs (it refuses any
/// other mode with EINVAL).
pub fn bufioreq_mode() -> dmop_abi::dmop::BufioreqMode {
    if cfg!(target_arch = "aarch64") {
        dmop_abi::dmop::BufioreqMode::OFF
    } else {
        dmop_abi::dmop::BufioreqMode::ATOMIC
    }
}

/// Where an Arm guest's RAM starts (Xen's `GUEST_RAM0_BASE`, public/arch-arm.h).
pub const ARM_GUEST_RAM_BASE: u64 = 0x4000_0000;

/// The kernel of arm64's test guests (dom0's own: a paused guest never
/// runs it; `$XDM_ARM_GUEST` overrides).
pub fn arm_guest_kernel() -> String {
    std::env::var("XDM_ARM_GUEST").unwrap_or_else(|_| crate::contract::ARM64_GUEST.into())
}

/// The xl configuration of a test guest with device model `dm`. On Arm,
/// where guests are PVH-like and boot a kernel, a guest of dom0's kernel;
/// xl starts no device model for it (`dm` is not used).
pub fn guest_config(name: &str, dm: &str, extra: &str) -> String {
    if cfg!(target_arch = "aarch64") {
        return format!(
            "name = \"{name}\"\n\
             type = \"pvh\"\n\
             memory = 64\n\
             vcpus = 1\n\
             kernel = \"{}\"\n\
             {extra}",
            arm_guest_kernel()
        );
    }
    let dm = format!(
        "device_model_version = \"qemu-xen-traditional\"\ndevice_model_override = \"{dm}\"\n"
    );
    guest_config_with(name, &test_guest_path(), &dm, extra)
}

/// The xl configuration of an HVM guest running firmware `fw`, with
/// device-model lines `dm` (version, override).
pub fn guest_config_with(name: &str, fw: &str, dm: &str, extra: &str) -> String {
    format!(
        "name = \"{name}\"\n\
         type = \"hvm\"\n\
         memory = 32\n\
         vcpus = 1\n\
         firmware_override = \"{fw}\"\n\
         {dm}\
         vga = \"none\"\n\
         vnc = 0\n\
         sdl = 0\n\
         nographic = 1\n\
         {extra}"
    )
}

impl Guest {
    /// `xl create` (paused with `paused`) of the test guest with device model `dm`.
    pub fn create(name: &str, dm: &str, paused: bool, extra: &str) -> Result<Guest, String> {
        Self::create_from(name, &guest_config(name, dm, extra), paused)
    }

    /// `xl create` of the configuration `config` (whose name is `name`).
    pub fn create_from(name: &str, config: &str, paused: bool) -> Result<Guest, String> {
        let cfg = format!("/tmp/{name}.cfg");
        std::fs::write(&cfg, config).map_err(|e| e.to_string())?;
        let mut args = vec!["create"];
        if paused {
            args.push("-p");
        }
        args.push(&cfg);
        let (ok, out) = run("xl", &args);
        if !ok {
            return Err(format!("xl create failed:\n{out}"));
        }
        let (ok, id, err) = run3("xl", &["domid", name]);
        if !ok {
            return Err(format!("xl domid {name}: {err}"));
        }
        let domid = id
            .trim()
            .parse::<u16>()
            .map_err(|_| format!("xl domid {name}: {id}{err}"))?;
        Ok(Guest {
            name: name.to_string(),
            domid: DomId(domid),
        })
    }

    /// The guest's state letters in `xl list` (e.g. `--p---`), if listed.
    pub fn state(&self) -> Option<String> {
        list_state(&self.name)
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        let _ = run("xl", &["destroy", &self.name]);
    }
}

/// The state column of `name` in `xl list`.
pub fn list_state(name: &str) -> Option<String> {
    let (_, out) = run("xl", &["list"]);
    out.lines().find_map(|l| {
        let cols: Vec<&str> = l.split_whitespace().collect();
        (cols.first() == Some(&name))
            .then(|| cols.get(4).map(|s| s.to_string()))
            .flatten()
    })
}

/// `fake-dm`: what xl starts as the device model of a guest that has none.
/// It reports `running` in xenstore (what libxl waits for) and idles until
/// killed.
pub fn fake_dm(args: &[String]) -> i32 {
    let mut dom = std::env::var("XEN_DOMAIN_ID").ok();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "-d" || a == "-xen-domid" || a == "--domid" {
            dom = it.next().cloned();
        }
    }
    let Some(dom) = dom else {
        eprintln!("fake-dm: no domain id (-d N or XEN_DOMAIN_ID)");
        return 2;
    };
    let key = format!("/local/domain/0/device-model/{dom}/state");
    let (ok, out) = run("xenstore-write", &[&key, "running"]);
    if !ok {
        eprintln!("fake-dm: xenstore-write {key}: {out}");
        return 1;
    }
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}

/// The first loadable segment of the test guest: (file offset, guest
/// address, its first 64 bytes), to compare with guest memory.
pub fn guest_image() -> Option<(usize, u64, Vec<u8>)> {
    if cfg!(target_arch = "aarch64") {
        // An arm64 Image: Xen loads it text_offset (header bytes 8..16)
        // above the start of guest RAM.
        let image = std::fs::read(arm_guest_kernel()).ok()?;
        let text_offset = u64::from_le_bytes(image.get(8..16)?.try_into().ok()?);
        return Some((
            0,
            ARM_GUEST_RAM_BASE + text_offset,
            image.get(..64)?.to_vec(),
        ));
    }
    let elf = std::fs::read(test_guest_path()).ok()?;
    let u16_at = |o: usize| u16::from_le_bytes(elf[o..o + 2].try_into().unwrap());
    let u32_at = |o: usize| u32::from_le_bytes(elf[o..o + 4].try_into().unwrap());
    let (phoff, phentsize, phnum) = (
        u32_at(0x1c) as usize,
        u16_at(0x2a) as usize,
        u16_at(0x2c) as usize,
    );
    (0..phnum)
        .map(|i| phoff + i * phentsize)
        .find(|&p| u32_at(p) == 1)
        .map(|p| {
            let off = u32_at(p + 4) as usize;
            (off, u64::from(u32_at(p + 8)), elf[off..off + 64].to_vec())
        })
}
