// SPDX-License-Identifier: MIT
//! The command line of `xen-thin-dm`.
//!
//! xl starts a `qemu-xen-traditional` device model with `-d DOMID` (and
//! `XEN_DOMAIN_ID` in the environment) followed by QEMU flags; QEMU's own
//! spelling is `-xen-domid N -xen-domid-restrict`. All of these are
//! understood. Other single-dash flags are QEMU's, which xen-thin-dm does
//! not implement: they are ignored with one warning line. An unknown
//! `--long` option is a mistake and an error.

use std::path::PathBuf;

use dmop_abi::types::DomId;

use crate::board::Board;

/// The uid (and gid) of the device model of domain `d` is `UID_BASE + d`
/// unless `--uid`/`--gid` say otherwise.
pub const UID_BASE: u32 = 40000;

/// The default `RLIMIT_FSIZE` after deprivileging: the largest file the
/// device model may grow (its log included, under xl).
pub const DEFAULT_MAX_FILE_SIZE: u64 = 8 << 20;

/// The default of `--poll-max-us`.
pub const DEFAULT_POLL_MAX_US: u64 = 100;

/// How the device model gets its privcmd descriptor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Privcmd {
    /// The privcmd-restrict node if it is loaded, else the C node.
    Auto,
    /// This node.
    Path(String),
}

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// The guest.
    pub domid: DomId,
    /// The uid to run as.
    pub uid: u32,
    /// The gid to run as.
    pub gid: u32,
    /// Deprivilege (the default); false only with `--no-depriv`.
    pub depriv: bool,
    /// Get a descriptor that is restricted from its open (privcmd-restrict
    /// with a uid binding) instead of restricting one after opening it.
    pub restrict_at_open: bool,
    /// Which privcmd node.
    pub privcmd: Privcmd,
    /// Where the UART's output goes (default: stdout).
    pub uart_log: Option<PathBuf>,
    /// `RLIMIT_FSIZE` after deprivileging.
    pub max_file_size: u64,
    /// Run the escape self-test after deprivileging.
    pub escape_test: bool,
    /// Another guest for the escape self-test (default: found in xenstore).
    pub escape_other: Option<DomId>,
    /// The longest the request loop polls before sleeping (0: never).
    pub poll_max_us: u64,
    /// Log every refused request.
    pub verbose: bool,
    /// Disks served as virtio-blk devices.
    pub disks: Vec<Disk>,
    /// Serve a virtio-console (its output to the log, as the UART's).
    pub virtio_console: bool,
    /// Serve a virtio-rng fed from `/dev/urandom`.
    pub virtio_rng: bool,
    /// Put the virtio devices on PCI (`--virtio-transport pci`), not on
    /// virtio-mmio.
    pub virtio_pci: bool,
    /// Let the kernel answer the virtio queue notifies (ioeventfds) when
    /// the privcmd node offers it (the default); `--no-ioeventfd` keeps
    /// them in the ioreq loop.
    pub ioeventfd: bool,
    /// The machine the guest sees (default: the build's architecture's).
    pub board: Board,
    /// An Arm guest's RAM in KiB (`--guest-ram-kib`, what xenstore's
    /// `memory/static-max` says): where its virtio queues may be.
    pub guest_ram_kib: Option<u64>,
    /// The board slot the first virtio device takes (`--virtio-slot`): a
    /// backend that runs a device model per disk gives each its own.
    pub first_slot: usize,
    /// The xenstore node `running` is written to once deprivileged
    /// (default: libxl's `/local/domain/0/device-model/DOMID/state`).
    pub state_key: Option<String>,
    /// QEMU flags that were ignored.
    pub ignored: Vec<String>,
}

/// A disk for a virtio-blk device (`--virtio-blk PATH[,ro]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disk {
    /// The file or block device, opened before deprivileging.
    pub path: PathBuf,
    /// Refuse the guest's writes.
    pub read_only: bool,
}

/// The most disks a guest gets.
pub const MAX_DISKS: usize = 4;

fn disk(v: Option<String>) -> Result<Disk, String> {
    let v = v.ok_or("--virtio-blk needs a file")?;
    let (path, read_only) = match v.rsplit_once(',') {
        Some((p, "ro")) => (p, true),
        Some((p, "rw")) => (p, false),
        Some((_, o)) => return Err(format!("--virtio-blk {v}: unknown mode `{o}` (ro or rw)")),
        None => (v.as_str(), false),
    };
    if path.is_empty() {
        return Err("--virtio-blk needs a file".into());
    }
    Ok(Disk {
        path: path.into(),
        read_only,
    })
}

/// What to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Serve the guest.
    Run(Options),
    /// Print the usage.
    Help,
    /// Print the version.
    Version,
}

/// The usage text.
pub const USAGE: &str = "\
usage: xen-thin-dm -d DOMID [options]   (also --domid N, -xen-domid N, or XEN_DOMAIN_ID)

A deprivileged device model for one Xen guest: a 16550 UART (COM1) and
the virtio devices the options name (and, in a build with the cargo
feature test-platform, the test platform's debug-exit port 0x501, scratch
devices and PCI counter). It confines itself to the guest before it reads
a request.

options:
  --uid N, --gid N       run as this uid/gid (default 40000 + DOMID)
  --require-depriv       fail unless every deprivilege step applies (default)
  --no-depriv            do not deprivilege: UNSAFE, for debugging only
  --restrict-at-open     use privcmd-restrict's uid binding: the privcmd
                         descriptor is confined to the guest from its open
  --privcmd PATH         privcmd node (default: /dev/xen/privcmd-restrict if
                         loaded, else /dev/xen/privcmd)
  --uart-log FILE        write the guest's serial output to FILE (default: stdout)
  --max-file-size BYTES  RLIMIT_FSIZE once deprivileged (default 8388608)
  --poll-max-us N        poll for requests up to N microseconds before sleeping,
                         adapting the window to the guest (default 100; 0: never)
  --escape-test          after deprivileging, try to escape and print a table
                         (builds with the cargo feature escape-test only)
  --escape-other DOMID   another guest for the escape test (default: from xenstore)
  -xen-domid-restrict    accepted (xen-thin-dm always restricts itself)
  --virtio-blk FILE[,ro] serve FILE (a file or block device, opened before
                         deprivileging) as a virtio-blk disk on virtio-mmio;
                         ro: the guest's writes fail. Up to 4; the log names
                         the guest command line that finds them
  --virtio-console       a virtio-console; its output goes where the UART's does
  --virtio-rng           a virtio-rng fed from /dev/urandom (opened before
                         deprivileging)
  --virtio-transport mmio|pci
                         where the virtio devices sit: virtio-mmio slots the
                         guest's command line names (the default), or PCI
                         functions on bus 0 with a host bridge
  --no-ioeventfd         keep virtio queue notifies in the ioreq loop even
                         where the privcmd node offers ioeventfds
  --board x86|arm        the guest's machine (default: this build's architecture's).
                         arm: only the virtio disks, in the virtio-mmio slots
                         and GIC SPIs libxl gives them (in order) and names in
                         the guest's device tree; no ports, no PCI
  --guest-ram-kib N      arm: the guest's RAM in KiB (its memory/static-max),
                         needed with a disk
  --virtio-slot N        the first virtio device takes the board's slot N
                         (default 0; xen-thin-dm-backend runs one device model
                         per disk, each in the slot libxl gave that disk)
  --state-key PATH       the xenstore node `running` is written to once
                         deprivileged, under /local/domain/0/device-model/DOMID/
                         (default .../state, libxl's)
  -v, --verbose          log refused requests
  -h, --help, --version
Other single-dash options are QEMU's: they are ignored with a warning.";

fn number<T: std::str::FromStr>(flag: &str, v: Option<&String>) -> Result<T, String> {
    let v = v.ok_or_else(|| format!("{flag} needs a value"))?;
    v.parse().map_err(|_| format!("{flag} {v}: not a number"))
}

fn domid(flag: &str, v: Option<&String>) -> Result<DomId, String> {
    let d: u16 = number(flag, v)?;
    let d = DomId(d);
    if !d.is_ordinary() {
        return Err(format!("{flag} {}: not an ordinary domain id", d.0));
    }
    Ok(d)
}

/// Parses the arguments (without the program name); `env_domid` is
/// `XEN_DOMAIN_ID`. Errors are one line.
///
/// ```
/// use xen_thin_dm::cli::{parse, Command};
///
/// let args: Vec<String> = ["-d", "5", "-nographic", "-M", "xenfv"].iter().map(|s| s.to_string()).collect();
/// let Command::Run(o) = parse(&args, None)? else { unreachable!() };
/// assert_eq!((o.domid.0, o.uid, o.depriv), (5, 40005, true));
/// assert_eq!(o.ignored, ["-nographic", "-M xenfv"]);
/// assert!(parse(&["--uidd".to_string()], Some("5")).is_err());
/// # Ok::<(), String>(())
/// ```
pub fn parse(args: &[String], env_domid: Option<&str>) -> Result<Command, String> {
    let mut dom: Option<DomId> = None;
    let (mut uid, mut gid) = (None, None);
    let mut o = Options {
        domid: DomId(0),
        uid: 0,
        gid: 0,
        depriv: true,
        restrict_at_open: false,
        privcmd: Privcmd::Auto,
        uart_log: None,
        max_file_size: DEFAULT_MAX_FILE_SIZE,
        escape_test: false,
        escape_other: None,
        poll_max_us: DEFAULT_POLL_MAX_US,
        verbose: false,
        disks: Vec::new(),
        virtio_console: false,
        virtio_rng: false,
        ioeventfd: true,
        virtio_pci: false,
        board: Board::NATIVE,
        guest_ram_kib: None,
        first_slot: 0,
        state_key: None,
        ignored: Vec::new(),
    };
    let mut it = args.iter().peekable();
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        let mut value = || inline.clone().or_else(|| it.next().cloned());
        match flag {
            "-h" | "--help" => return Ok(Command::Help),
            "--version" => return Ok(Command::Version),
            "-d" | "--domid" | "-xen-domid" => dom = Some(domid(flag, value().as_ref())?),
            "-xen-domid-restrict" => {}
            "--uid" => uid = Some(number::<u32>(flag, value().as_ref())?),
            "--gid" => gid = Some(number::<u32>(flag, value().as_ref())?),
            "--require-depriv" => o.depriv = true,
            "--no-depriv" => o.depriv = false,
            "--restrict-at-open" => o.restrict_at_open = true,
            "--privcmd" => o.privcmd = Privcmd::Path(value().ok_or("--privcmd needs a path")?),
            "--uart-log" => o.uart_log = Some(value().ok_or("--uart-log needs a file")?.into()),
            "--max-file-size" => o.max_file_size = number(flag, value().as_ref())?,
            "--escape-test" | "--escape-other" if !cfg!(feature = "escape-test") => {
                return Err(format!(
                    "{flag}: this xen-thin-dm is built without the escape self-test (cargo feature escape-test)"
                ));
            }
            "--escape-test" => o.escape_test = true,
            "--escape-other" => o.escape_other = Some(domid(flag, value().as_ref())?),
            "--poll-max-us" => o.poll_max_us = number(flag, value().as_ref())?,
            "-v" | "--verbose" => o.verbose = true,
            "--virtio-blk" => {
                if o.disks.len() == MAX_DISKS {
                    return Err(format!("at most {MAX_DISKS} --virtio-blk disks"));
                }
                o.disks.push(disk(value())?);
            }
            "--virtio-console" => o.virtio_console = true,
            "--virtio-rng" => o.virtio_rng = true,
            "--no-ioeventfd" => o.ioeventfd = false,
            "--virtio-transport" => {
                o.virtio_pci = match value().as_deref() {
                    Some("mmio") => false,
                    Some("pci") => true,
                    Some(v) => return Err(format!("--virtio-transport {v}: mmio or pci")),
                    None => return Err("--virtio-transport needs mmio or pci".into()),
                }
            }
            "--board" => {
                o.board = match value().as_deref() {
                    Some("x86") => Board::X86,
                    Some("arm") => Board::Arm,
                    Some(v) => return Err(format!("--board {v}: x86 or arm")),
                    None => return Err("--board needs x86 or arm".into()),
                }
            }
            "--guest-ram-kib" => o.guest_ram_kib = Some(number(flag, value().as_ref())?),
            "--virtio-slot" => o.first_slot = number(flag, value().as_ref())?,
            "--state-key" => {
                o.state_key = Some(value().ok_or("--state-key needs a xenstore path")?);
            }
            f if f.starts_with("--") => return Err(format!("unknown option {f} (see --help)")),
            f if f.starts_with('-') && f.len() > 1 => {
                // A QEMU flag, with its value if one follows.
                let mut ignored = f.to_string();
                if let Some(v) = it.next_if(|v| !v.starts_with('-')) {
                    ignored.push(' ');
                    ignored.push_str(v);
                }
                o.ignored.push(ignored);
            }
            f => o.ignored.push(f.to_string()),
        }
    }
    o.domid = match (dom, env_domid) {
        (Some(d), _) => d,
        (None, Some(e)) => domid("XEN_DOMAIN_ID", Some(&e.to_string()))?,
        (None, None) => {
            return Err("no domain: give -d DOMID (or --domid, -xen-domid, XEN_DOMAIN_ID)".into())
        }
    };
    if o.domid == DomId(0) {
        return Err("domain 0 is not an HVM guest: give the guest's domain id".into());
    }
    // The state node is made the guest's to write (with
    // XS_ONE_TIME_RESTRICT): only one under the guest's own device-model
    // directory.
    if let Some(k) = &o.state_key {
        let dir = format!("/local/domain/0/device-model/{}/", o.domid.0);
        let rest = k.strip_prefix(&dir).unwrap_or_default();
        if rest.is_empty()
            || rest.split('/').any(|c| {
                c.is_empty()
                    || !c
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
            })
        {
            return Err(format!("--state-key {k}: a node under {dir}"));
        }
    }
    o.uid = uid.unwrap_or(UID_BASE + u32::from(o.domid.0));
    o.gid = gid.unwrap_or(o.uid);
    if o.depriv && (o.uid == 0 || o.gid == 0) {
        return Err("--uid/--gid 0 would not deprivilege anything".into());
    }
    if !o.depriv && o.escape_test {
        return Err("--escape-test needs deprivileging (drop --no-depriv)".into());
    }
    if !o.depriv && o.restrict_at_open {
        return Err("--restrict-at-open is a way to deprivilege: drop --no-depriv".into());
    }
    if o.board == Board::Arm {
        // Only what libxl describes in an Arm guest's device tree.
        for (on, what) in [
            (o.virtio_console, "--virtio-console"),
            (o.virtio_rng, "--virtio-rng"),
        ] {
            if on {
                return Err(format!(
                    "{what}: an Arm guest finds only the virtio disks libxl names in its device tree"
                ));
            }
        }
        if o.virtio_pci {
            return Err(
                "--virtio-transport pci: an Arm guest has no PCI here (virtio-mmio only)".into(),
            );
        }
        match o.guest_ram_kib {
            None if !o.disks.is_empty() => {
                return Err(
                    "--board arm with a disk needs --guest-ram-kib (the guest's memory/static-max)"
                        .into(),
                )
            }
            Some(k) if k == 0 || k > crate::guest_ram::MAX_GUEST_RAM >> 10 => {
                return Err(format!(
                    "--guest-ram-kib {k}: more than 0 and at most {}",
                    crate::guest_ram::MAX_GUEST_RAM >> 10
                ))
            }
            _ => {}
        }
    } else if o.guest_ram_kib.is_some() {
        return Err(
            "--guest-ram-kib is for --board arm (an x86 guest's RAM is read from the guest)".into(),
        );
    }
    Ok(Command::Run(o))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str], env: Option<&str>) -> Result<Options, String> {
        let a: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        match parse(&a, env)? {
            Command::Run(o) => Ok(o),
            c => Err(format!("{c:?}")),
        }
    }

    #[test]
    fn the_ways_to_name_the_domain() {
        assert_eq!(run(&["-d", "3"], None).unwrap().domid, DomId(3));
        assert_eq!(run(&["--domid", "4"], None).unwrap().domid, DomId(4));
        assert_eq!(run(&["--domid=6"], None).unwrap().domid, DomId(6));
        assert_eq!(
            run(&["-xen-domid", "5", "-xen-domid-restrict"], None)
                .unwrap()
                .domid,
            DomId(5)
        );
        assert_eq!(run(&[], Some("7")).unwrap().domid, DomId(7));
        assert_eq!(
            run(&["-d", "8"], Some("7")).unwrap().domid,
            DomId(8),
            "the command line wins"
        );
    }

    #[test]
    fn what_xl_passes_a_traditional_device_model_is_ignored_with_its_values() {
        let o = run(
            &[
                "-d",
                "2",
                "-domain-name",
                "g",
                "-videoram",
                "4",
                "-nographic",
                "-M",
                "xenfv",
                "-vcpus",
                "1",
                "-acpi",
            ],
            None,
        )
        .unwrap();
        assert_eq!(
            o.ignored,
            [
                "-domain-name g",
                "-videoram 4",
                "-nographic",
                "-M xenfv",
                "-vcpus 1",
                "-acpi"
            ]
        );
        assert_eq!((o.uid, o.gid), (40002, 40002));
    }

    #[test]
    fn mistakes_are_one_line_errors() {
        for (args, env, want) in [
            (&["-d"][..], None, "-d needs a value"),
            (&["-d", "x"], None, "not a number"),
            (&["-d", "32752"], None, "not an ordinary domain id"),
            (&["-d", "0"], None, "domain 0"),
            (&[], None, "no domain"),
            (&[], Some("z"), "XEN_DOMAIN_ID z"),
            (&["-d", "1", "--uidd", "3"], None, "unknown option --uidd"),
            (&["-d", "1", "--uid", "0"], None, "would not deprivilege"),
            (
                &["-d", "1", "--no-depriv", "--escape-test"],
                None,
                if cfg!(feature = "escape-test") {
                    "needs deprivileging"
                } else {
                    "built without the escape self-test"
                },
            ),
            (&["-d", "1", "--privcmd"], None, "needs a path"),
            (
                &["-d", "1", "--virtio-transport", "isa"],
                None,
                "--virtio-transport isa: mmio or pci",
            ),
            (
                &["-d", "1", "--virtio-transport"],
                None,
                "needs mmio or pci",
            ),
            (
                &["-d", "1", "--board", "ppc"],
                None,
                "--board ppc: x86 or arm",
            ),
            (
                &["-d", "1", "--board", "arm", "--virtio-console"],
                None,
                "only the virtio disks",
            ),
            (
                &["-d", "1", "--board", "arm", "--virtio-rng"],
                None,
                "only the virtio disks",
            ),
            (
                &["-d", "1", "--board", "arm", "--virtio-transport", "pci"],
                None,
                "no PCI",
            ),
            (
                &["-d", "1", "--board", "arm", "--virtio-blk", "/d"],
                None,
                "needs --guest-ram-kib",
            ),
            (
                &["-d", "1", "--board", "arm", "--guest-ram-kib", "0"],
                None,
                "more than 0",
            ),
            (
                &["-d", "1", "--board", "x86", "--guest-ram-kib", "4"],
                None,
                "is for --board arm",
            ),
            (
                &["-d", "1", "--state-key", "/local/domain/3/x"],
                None,
                "a node under /local/domain/0/device-model/1/",
            ),
            (
                &[
                    "-d",
                    "1",
                    "--state-key",
                    "/local/domain/0/device-model/2/state",
                ],
                None,
                "a node under /local/domain/0/device-model/1/",
            ),
            (
                &[
                    "-d",
                    "1",
                    "--state-key",
                    "/local/domain/0/device-model/1/../x",
                ],
                None,
                "a node under",
            ),
        ] {
            let e = run(args, env).unwrap_err();
            assert!(e.contains(want) && !e.contains('\n'), "{args:?}: {e}");
        }
    }

    #[test]
    fn options() {
        let o = run(
            &[
                "-d",
                "1",
                "--uid",
                "500",
                "--no-depriv",
                "--privcmd",
                "/dev/x",
                "--uart-log=/tmp/u",
                "-v",
            ],
            None,
        )
        .unwrap();
        assert_eq!((o.uid, o.gid, o.depriv, o.verbose), (500, 500, false, true));
        assert_eq!(o.privcmd, Privcmd::Path("/dev/x".into()));
        assert_eq!(o.uart_log, Some(PathBuf::from("/tmp/u")));
        let escape: &[&str] = if cfg!(feature = "escape-test") {
            &["--escape-test", "--escape-other", "9"]
        } else {
            &[]
        };
        let args = [
            &["-d", "1"][..],
            escape,
            &["--restrict-at-open", "--gid", "7"],
        ]
        .concat();
        let o = run(&args, None).unwrap();
        let escape = cfg!(feature = "escape-test");
        assert_eq!(
            (o.escape_test, o.escape_other, o.restrict_at_open, o.gid),
            (escape, escape.then_some(DomId(9)), true, 7)
        );
        assert_eq!(parse(&["--help".into()], None), Ok(Command::Help));
        let o = run(
            &[
                "-d",
                "2",
                "--board",
                "arm",
                "--guest-ram-kib",
                "65536",
                "--virtio-blk",
                "/d,ro",
                "--virtio-slot",
                "1",
                "--state-key",
                "/local/domain/0/device-model/2/virtio_disk-51712/state",
            ],
            None,
        )
        .unwrap();
        assert_eq!(
            (
                o.board,
                o.guest_ram_kib,
                o.first_slot,
                o.state_key.as_deref()
            ),
            (
                Board::Arm,
                Some(65536),
                1,
                Some("/local/domain/0/device-model/2/virtio_disk-51712/state")
            )
        );
        assert_eq!(run(&["-d", "1"], None).unwrap().board, Board::NATIVE);
        assert_eq!(
            run(&["-d", "1"], None).unwrap().poll_max_us,
            DEFAULT_POLL_MAX_US
        );
        assert_eq!(
            run(&["-d", "1", "--poll-max-us", "0"], None)
                .unwrap()
                .poll_max_us,
            0
        );
        assert!(run(&["-d", "1", "--poll-max-us", "-5"], None)
            .unwrap_err()
            .contains("not a number"));
    }
}
