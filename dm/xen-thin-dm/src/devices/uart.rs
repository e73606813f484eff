// SPDX-License-Identifier: MIT
//! A 16550 UART: what the guest transmits goes to a sink (the device
//! model's stdout or a log file); nothing is ever received.

use std::io::Write;

use crate::device::{Access, Ctx, Device, Region};

const THR: u64 = 0; // transmit (read: receive buffer)
const IER: u64 = 1;
const IIR: u64 = 2; // read: interrupt id; write: FIFO control
const LCR: u64 = 3;
const MCR: u64 = 4;
const LSR: u64 = 5;
const MSR: u64 = 6;
const SCR: u64 = 7;
const LCR_DLAB: u8 = 0x80;
const IER_THRI: u8 = 0x02;
const LSR_THRE_TEMT: u8 = 0x60;
const IIR_NONE: u8 = 0x01;
const IIR_THRI: u8 = 0x02;
const IIR_FIFO: u8 = 0xc0;

/// A 16550A (8 ports, which a board places) on ISA IRQ `irq`.
pub struct Uart16550 {
    fd: Option<std::os::fd::RawFd>,
    irq: u8,
    out: Box<dyn Write + Send>,
    line: Vec<u8>,
    ier: u8,
    lcr: u8,
    mcr: u8,
    scr: u8,
    fcr: u8,
    dll: u8,
    dlm: u8,
    /// Set when the transmitter became empty and nobody read IIR since.
    thr_interrupt: bool,
}

impl Uart16550 {
    /// COM1's UART (IRQ 4; the board places it at 0x3f8,
    /// [`crate::board::COM1`]) writing to `out`, a line at a time.
    pub fn com1(out: Box<dyn Write + Send>) -> Self {
        Self::new(4, out)
    }

    /// A UART on `irq`.
    pub fn new(irq: u8, out: Box<dyn Write + Send>) -> Self {
        Self {
            fd: None,
            irq,
            out,
            line: Vec::new(),
            ier: 0,
            lcr: 0,
            mcr: 0,
            scr: 0,
            fcr: 0,
            dll: 1,
            dlm: 0,
            thr_interrupt: false,
        }
    }

    /// Declares the descriptor behind `out` (a log file), for [`Device::fds`].
    pub fn holding_fd(mut self, fd: std::os::fd::RawFd) -> Self {
        self.fd = Some(fd);
        self
    }

    fn update_irq(&mut self, ctx: &mut Ctx<'_>) {
        let pending = self.thr_interrupt && self.ier & IER_THRI != 0;
        ctx.set_isa_irq(self.irq, pending);
    }

    fn transmit(&mut self, b: u8) {
        self.line.push(b);
        if b == b'\n' || self.line.len() >= 256 {
            let _ = self.out.write_all(&self.line);
            let _ = self.out.flush();
            self.line.clear();
        }
    }
}

impl Device for Uart16550 {
    fn name(&self) -> &str {
        "16550 UART"
    }

    fn regions(&self) -> Vec<Region> {
        vec![Region::Ports(8)]
    }

    fn fds(&self) -> Vec<std::os::fd::RawFd> {
        self.fd.into_iter().collect()
    }

    fn read(&mut self, a: Access, ctx: &mut Ctx<'_>) -> u64 {
        let dlab = self.lcr & LCR_DLAB != 0;
        let v = match a.addr {
            THR if dlab => self.dll,
            IER if dlab => self.dlm,
            THR => 0,
            IER => self.ier,
            IIR => {
                let id = if self.thr_interrupt && self.ier & IER_THRI != 0 {
                    IIR_THRI
                } else {
                    IIR_NONE
                };
                self.thr_interrupt = false;
                self.update_irq(ctx);
                id | if self.fcr & 1 != 0 { IIR_FIFO } else { 0 }
            }
            LCR => self.lcr,
            MCR => self.mcr,
            LSR => LSR_THRE_TEMT,
            MSR => 0xb0, // CTS, DSR, DCD
            SCR => self.scr,
            _ => 0xff,
        };
        u64::from(v)
    }

    fn write(&mut self, a: Access, value: u64, ctx: &mut Ctx<'_>) {
        let b = value as u8;
        let dlab = self.lcr & LCR_DLAB != 0;
        match a.addr {
            THR if dlab => self.dll = b,
            IER if dlab => self.dlm = b,
            THR => {
                self.transmit(b);
                self.thr_interrupt = true; // sent at once: the holding register is empty again
                self.update_irq(ctx);
            }
            IER => {
                self.ier = b & 0x0f;
                self.thr_interrupt = self.ier & IER_THRI != 0;
                self.update_irq(ctx);
            }
            IIR => self.fcr = b,
            LCR => self.lcr = b,
            MCR => self.mcr = b,
            SCR => self.scr = b,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::device::{Action, Space};

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Port `p` of COM1 (0x3f8 + `p - 0x3f8` on the board): the access
    /// the machine makes, at the offset.
    fn port(p: u64) -> Access {
        Access {
            space: Space::Port(0),
            addr: p - 0x3f8,
            size: 1,
        }
    }

    #[test]
    fn transmits_lines_keeps_scratch_and_raises_irq4() {
        let sink = Sink::default();
        let mut u = Uart16550::com1(Box::new(sink.clone()));
        let mut acts = Vec::new();
        let mut ctx = Ctx::new(&mut acts, None);
        u.write(port(0x3ff), 0x5a, &mut ctx);
        assert_eq!(
            u.read(port(0x3ff), &mut ctx),
            0x5a,
            "scratch register: how guests detect a UART"
        );
        assert_eq!(
            u.read(port(0x3fd), &mut ctx),
            0x60,
            "transmitter always empty"
        );
        u.write(port(0x3fb), 0x80, &mut ctx);
        u.write(port(0x3f8), 0x01, &mut ctx);
        assert_eq!(u.read(port(0x3f8), &mut ctx), 1, "divisor latch");
        u.write(port(0x3fb), 0x03, &mut ctx);
        for b in b"hello\n" {
            u.write(port(0x3f8), u64::from(*b), &mut ctx);
        }
        assert_eq!(&*sink.0.lock().unwrap(), b"hello\n");
        u.write(port(0x3f9), u64::from(IER_THRI), &mut ctx);
        assert_eq!(ctx.actions.last(), Some(&Action::IsaIrq(4, true)));
        assert_eq!(u.read(port(0x3fa), &mut ctx) & 0xf, u64::from(IIR_THRI));
        assert_eq!(
            ctx.actions.last(),
            Some(&Action::IsaIrq(4, false)),
            "reading IIR acknowledges"
        );
    }
}
