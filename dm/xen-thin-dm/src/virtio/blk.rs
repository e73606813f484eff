// SPDX-License-Identifier: MIT
//! virtio-blk over a file or block device the operator named, opened
//! before the device model deprivileged itself. Requests never reach
//! beyond the disk's size; a read-only disk answers writes with
//! `VIRTIO_BLK_S_IOERR`; a flush is an `fdatasync`.

use std::fs::File;
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;

use virtio_bindings::virtio_blk::{
    VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_RO, VIRTIO_BLK_F_SEG_MAX, VIRTIO_BLK_F_SIZE_MAX,
    VIRTIO_BLK_ID_BYTES, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_OK, VIRTIO_BLK_S_UNSUPP,
    VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT,
};
use virtio_queue::desc::split::Descriptor;
use virtio_queue::Queue;
use vm_memory::{Bytes, GuestAddress, GuestMemoryBackend, GuestMemoryMmap};

use super::{DeviceError, VirtioDevice};

/// virtio's sector.
pub const SECTOR: u64 = 512;
/// The queue's size.
const QUEUE_SIZE: u16 = 256;
/// Data segments per request the device accepts (`seg_max`): a request
/// has them plus its header and status.
const SEG_MAX: u32 = 126;
/// Descriptors a request may have: its data segments, header and status.
const MAX_DESCRIPTORS: usize = SEG_MAX as usize + 2;
/// Bytes a turn of the queue asks to move at most (see `process`).
const TURN_BYTES: u64 = 8 << 20;
/// The largest data segment the device takes (`size_max`, offered with
/// `VIRTIO_BLK_F_SIZE_MAX`): with `SEG_MAX` it bounds a request, which
/// Linux then never exceeds, to 126 x 256 KiB.
const SIZE_MAX: u32 = 256 << 10;
/// Descriptors walked at most to find an over-long request's status byte.
const WALK: usize = 4 * MAX_DESCRIPTORS;
/// The request header: type, reserved, sector.
const HEADER: usize = 16;

/// The disk behind a virtio-blk device.
#[derive(Debug)]
pub struct BlockBackend {
    file: File,
    /// Bytes the guest may use: the size rounded down to whole sectors.
    len: u64,
    read_only: bool,
    id: [u8; VIRTIO_BLK_ID_BYTES as usize],
}

impl BlockBackend {
    /// Opens `path` (a file or a block device), read-write unless
    /// `read_only`. Its size is taken now and never grows.
    pub fn open(path: &Path, read_only: bool) -> Result<Self, String> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(!read_only)
            .open(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let len = size_of_file(&file).map_err(|e| format!("{}: size: {e}", path.display()))?;
        Self::from_file(file, len, read_only, path)
    }

    /// A backend over an open `file` of `len` bytes (for tests: any file).
    pub fn from_file(file: File, len: u64, read_only: bool, name: &Path) -> Result<Self, String> {
        let len = len / SECTOR * SECTOR;
        if len == 0 {
            return Err(format!("{}: smaller than one sector", name.display()));
        }
        let mut id = [0u8; VIRTIO_BLK_ID_BYTES as usize];
        let tag = name
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let n = tag.len().min(id.len());
        id[..n].copy_from_slice(&tag.as_bytes()[..n]);
        Ok(Self {
            file,
            len,
            read_only,
            id,
        })
    }

    /// The usable size in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether it has no usable sector (never: refused at open).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether writes are refused.
    pub fn read_only(&self) -> bool {
        self.read_only
    }

    /// Whether it is a regular file (`RLIMIT_FSIZE` applies to it; it does
    /// not to a block device).
    pub fn is_regular_file(&self) -> bool {
        self.file.metadata().is_ok_and(|m| m.is_file())
    }
}

impl AsRawFd for BlockBackend {
    fn as_raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

/// A file's size, or a block device's: where its end is (the offset is
/// never used again: every transfer is `pread`/`pwrite` at an offset).
fn size_of_file(f: &File) -> std::io::Result<u64> {
    use std::io::Seek;
    let mut f = f;
    f.seek(std::io::SeekFrom::End(0))
}

/// virtio-blk: one request queue.
#[derive(Debug)]
pub struct VirtioBlk {
    disk: BlockBackend,
    /// Requests by outcome: ok, I/O error, unsupported, unanswerable.
    counts: [u64; 4],
    /// Failed reads and writes of the disk (the first few are logged).
    io_errors: u64,
}

/// Disk I/O failures logged; later ones are only counted.
const LOGGED_IO_ERRORS: u64 = 8;

impl VirtioBlk {
    /// A block device on `disk`.
    pub fn new(disk: BlockBackend) -> Self {
        Self {
            disk,
            counts: [0; 4],
            io_errors: 0,
        }
    }

    /// The disk's usable size in bytes.
    pub fn disk_len(&self) -> u64 {
        self.disk.len
    }

    /// Requests answered OK, with IOERR, with UNSUPP, and those that could
    /// not be answered (no writable status byte).
    pub fn counts(&self) -> [u64; 4] {
        self.counts
    }

    /// Handles one request; returns its status and the bytes written to
    /// the guest's buffers (the status byte not included).
    fn request(
        &mut self,
        mem: &GuestMemoryMmap,
        descs: &[Descriptor],
        too_long: bool,
    ) -> Result<(u8, u32), ()> {
        if too_long {
            // More descriptors than seg_max allows: fail it, status in the
            // last byte of the last descriptor if the guest made it writable.
            let last = descs.last().ok_or(())?;
            if !last.is_write_only() || last.len() == 0 {
                return Err(());
            }
            let at = last
                .addr()
                .0
                .checked_add(u64::from(last.len()) - 1)
                .ok_or(())?;
            mem.write_obj(VIRTIO_BLK_S_IOERR as u8, GuestAddress(at))
                .map_err(|_| ())?;
            return Ok((VIRTIO_BLK_S_IOERR as u8, 0));
        }
        // The header: the first HEADER readable bytes.
        let readable: Vec<&Descriptor> = descs.iter().take_while(|d| !d.is_write_only()).collect();
        let writable: Vec<&Descriptor> = descs.iter().skip(readable.len()).collect();
        if writable.iter().any(|d| !d.is_write_only()) {
            return Err(()); // readable after writable: not a request
        }
        let mut header = [0u8; HEADER];
        let mut got = 0;
        let mut data_out: Vec<(u64, u32)> = Vec::new();
        for d in &readable {
            let (mut addr, mut len) = (d.addr().0, d.len());
            if got < HEADER {
                let n = (HEADER - got).min(len as usize);
                mem.read_slice(&mut header[got..got + n], GuestAddress(addr))
                    .map_err(|_| ())?;
                got += n;
                addr += n as u64;
                len -= n as u32;
            }
            if len > 0 {
                data_out.push((addr, len));
            }
        }
        if got < HEADER {
            return Err(());
        }
        let ty = u32::from_le_bytes(header[0..4].try_into().expect("4 bytes"));
        let sector = u64::from_le_bytes(header[8..16].try_into().expect("8 bytes"));
        // The status is the last writable byte; the rest is data.
        let (last, rest) = writable.split_last().ok_or(())?;
        if last.len() == 0 {
            return Err(());
        }
        let mut data_in: Vec<(u64, u32)> = rest.iter().map(|d| (d.addr().0, d.len())).collect();
        if last.len() > 1 {
            data_in.push((last.addr().0, last.len() - 1));
        }
        let status_at = last
            .addr()
            .0
            .checked_add(u64::from(last.len()) - 1)
            .ok_or(())?;
        if !mem.check_range(GuestAddress(status_at), 1) {
            return Err(());
        }
        let io = |list: &[(u64, u32)]| -> Option<u64> {
            list.iter()
                .try_fold(0u64, |a, &(_, l)| a.checked_add(u64::from(l)))
        };
        let in_range = |bytes: u64| -> Option<u64> {
            // More than the device said it takes (seg_max x size_max).
            if bytes > u64::from(SEG_MAX) * u64::from(SIZE_MAX) {
                return None;
            }
            let off = sector.checked_mul(SECTOR)?;
            (off.checked_add(bytes)? <= self.disk.len).then_some(off)
        };
        let (status, written) = match ty {
            VIRTIO_BLK_T_IN => match io(&data_in).and_then(|n| Some((n, in_range(n)?))) {
                Some((n, off)) if self.transfer(mem, &data_in, off, false) => (VIRTIO_BLK_S_OK, n),
                _ => (VIRTIO_BLK_S_IOERR, 0),
            },
            VIRTIO_BLK_T_OUT if self.disk.read_only => (VIRTIO_BLK_S_IOERR, 0),
            VIRTIO_BLK_T_OUT => match io(&data_out).and_then(in_range) {
                Some(off) if self.transfer(mem, &data_out, off, true) => (VIRTIO_BLK_S_OK, 0),
                _ => (VIRTIO_BLK_S_IOERR, 0),
            },
            VIRTIO_BLK_T_FLUSH => {
                // SAFETY: fdatasync on a descriptor this device owns.
                let r = unsafe { libc::fdatasync(self.disk.file.as_raw_fd()) };
                if r == 0 || self.disk.read_only {
                    (VIRTIO_BLK_S_OK, 0)
                } else {
                    (VIRTIO_BLK_S_IOERR, 0)
                }
            }
            VIRTIO_BLK_T_GET_ID => {
                let mut left = &self.disk.id[..];
                let mut n = 0u64;
                for &(addr, len) in &data_in {
                    let k = left.len().min(len as usize);
                    if mem.write_slice(&left[..k], GuestAddress(addr)).is_err() {
                        return Ok((VIRTIO_BLK_S_IOERR as u8, 0));
                    }
                    left = &left[k..];
                    n += k as u64;
                }
                (VIRTIO_BLK_S_OK, n)
            }
            _ => (VIRTIO_BLK_S_UNSUPP, 0),
        };
        mem.write_obj(status as u8, GuestAddress(status_at))
            .map_err(|_| ())?;
        Ok((status as u8, written.min(u64::from(u32::MAX - 1)) as u32))
    }

    /// Moves the bytes of the guest buffers `list` from (`write`: to) the
    /// disk at `off`, straight between the file and guest memory. False on
    /// any failure: a buffer outside guest RAM, or an I/O error.
    fn transfer(
        &mut self,
        mem: &GuestMemoryMmap,
        list: &[(u64, u32)],
        mut off: u64,
        write: bool,
    ) -> bool {
        let fd = self.disk.file.as_raw_fd();
        for &(addr, len) in list {
            for slice in GuestMemoryBackend::get_slices(mem, GuestAddress(addr), len as usize) {
                let Ok(slice) = slice else { return false };
                let guard = slice.ptr_guard_mut();
                let mut done = 0usize;
                while done < slice.len() {
                    let Ok(at) = libc::off_t::try_from(off) else {
                        return false;
                    };
                    // SAFETY: [ptr, ptr + len) is a slice of mapped guest
                    // RAM that `guard` keeps valid; the kernel copies to or
                    // from it, and the guest may change it meanwhile, which
                    // only changes the data.
                    let n = unsafe {
                        let p = guard.as_ptr().add(done).cast::<libc::c_void>();
                        if write {
                            // In the pieces the seccomp filter admits: it
                            // lets no write end past the disk's end.
                            let most = crate::depriv::disk_write_limit(off, self.disk.len);
                            let n = (slice.len() - done).min(usize::try_from(most).unwrap_or(0));
                            libc::pwrite(fd, p, n, at)
                        } else {
                            libc::pread(fd, p, slice.len() - done, at)
                        }
                    };
                    if n <= 0 {
                        let e = if n < 0 {
                            std::io::Error::last_os_error().to_string()
                        } else {
                            "end of file".into()
                        };
                        self.io_errors += 1;
                        if self.io_errors <= LOGGED_IO_ERRORS {
                            crate::server::log(&format!(
                                "virtio-blk: {} at byte {off} failed: {e}",
                                if write { "write" } else { "read" }
                            ));
                        }
                        return false;
                    }
                    done += n as usize;
                    off += n as u64;
                }
            }
        }
        true
    }
}

impl VirtioDevice for VirtioBlk {
    fn name(&self) -> &str {
        "blk"
    }

    fn device_id(&self) -> u32 {
        2
    }

    fn features(&self) -> u64 {
        let mut f =
            1 << VIRTIO_BLK_F_FLUSH | 1 << VIRTIO_BLK_F_SEG_MAX | 1 << VIRTIO_BLK_F_SIZE_MAX;
        if self.disk.read_only {
            f |= 1 << VIRTIO_BLK_F_RO;
        }
        f
    }

    fn queue_max_sizes(&self) -> &[u16] {
        &[QUEUE_SIZE]
    }

    fn read_config(&self, offset: u64, data: &mut [u8]) {
        // capacity (sectors), size_max, seg_max.
        let mut cfg = [0u8; 16];
        cfg[0..8].copy_from_slice(&(self.disk.len / SECTOR).to_le_bytes());
        cfg[8..12].copy_from_slice(&SIZE_MAX.to_le_bytes());
        cfg[12..16].copy_from_slice(&SEG_MAX.to_le_bytes());
        for (i, b) in data.iter_mut().enumerate() {
            *b = usize::try_from(offset)
                .ok()
                .and_then(|o| o.checked_add(i))
                .and_then(|o| cfg.get(o).copied())
                .unwrap_or(0);
        }
    }

    fn process(
        &mut self,
        index: usize,
        queue: &mut Queue,
        mem: &GuestMemoryMmap,
    ) -> Result<bool, DeviceError> {
        if index != 0 {
            return Err(DeviceError(format!("blk has no queue {index}")));
        }
        // A chain (an indirect table's included) yields at most 65535
        // descriptors; only the request's bound is kept, and the last one,
        // where the status byte is, if the chain ends within WALK. A longer
        // one is used unanswered: finding its end would cost the device
        // model a walk of up to 65535 descriptors per request.
        // A turn moves about TURN_BYTES at most (the chain that crosses it
        // is served whole): the rest waits for the next turn, so that one
        // notify never holds the device model for long.
        let asked = std::cell::Cell::new(0u64);
        let serve = |descs: &[Descriptor], tail: super::Tail| {
            asked.set(
                asked.get()
                    + descs.iter().map(|d| u64::from(d.len())).sum::<u64>()
                    + match tail {
                        super::Tail::Last(d) => u64::from(d.len()),
                        _ => 0,
                    },
            );
            let mut descs = descs.to_vec();
            let answer = match tail {
                super::Tail::None => self.request(mem, &descs, false),
                super::Tail::Last(last) => {
                    descs.push(last);
                    self.request(mem, &descs, true)
                }
                super::Tail::Endless => Err(()),
            };
            match answer {
                Ok((status, written)) => {
                    self.counts[match u32::from(status) {
                        VIRTIO_BLK_S_OK => 0,
                        VIRTIO_BLK_S_IOERR => 1,
                        _ => 2,
                    }] += 1;
                    written + 1
                }
                Err(()) => {
                    self.counts[3] += 1;
                    0
                }
            }
        };
        super::serve_chains(queue, mem, MAX_DESCRIPTORS, WALK, serve, || {
            asked.get() >= TURN_BYTES
        })
    }

    fn fds(&self) -> Vec<RawFd> {
        vec![self.disk.file.as_raw_fd()]
    }
}
