// SPDX-License-Identifier: MIT
//! A new device in about fifty lines: a bank of eight LEDs on one port,
//! which this device model places at 0x720.
//! The guest writes a byte to light them; reads give the byte back; bit 7
//! set in a write also raises ISA IRQ 5 ("look at me").
//!
//! `cargo run --example led_bank -- -d DOMID` is a complete device model:
//! xen-thin-dm's devices plus this one, attached and deprivileged the same
//! way (point xl's `device_model_override` at the binary). Without Xen,
//! `cargo run --example led_bank -- --selftest` drives it through a
//! machine the way a guest would.

use std::process::ExitCode;

use xen_thin_dm::{Access, Ctx, Device, Machine, Placed, Region};

const PORT: u64 = 0x720;
const IRQ: u8 = 5;

#[derive(Default)]
struct LedBank {
    lit: u8,
}

impl Device for LedBank {
    fn name(&self) -> &str {
        "led bank"
    }

    fn regions(&self) -> Vec<Region> {
        vec![Region::Ports(1)]
    }

    fn read(&mut self, _: Access, _: &mut Ctx<'_>) -> u64 {
        u64::from(self.lit)
    }

    fn write(&mut self, _: Access, value: u64, ctx: &mut Ctx<'_>) {
        self.lit = value as u8;
        let bulbs: String = (0..8)
            .rev()
            .map(|i| if self.lit & (1 << i) != 0 { '*' } else { '.' })
            .collect();
        println!("led bank: [{bulbs}]");
        ctx.set_isa_irq(IRQ, self.lit & 0x80 != 0);
    }
}

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("--selftest") {
        let mut m = Machine::new(vec![Placed::at(LedBank::default(), &[PORT])])
            .expect("one device cannot overlap");
        m.port(PORT, 1, Some(0x81));
        assert_eq!(m.port(PORT, 1, None), 0x81);
        assert_eq!(
            m.take_actions(),
            vec![xen_thin_dm::Action::IsaIrq(IRQ, true)]
        );
        return ExitCode::SUCCESS;
    }
    xen_thin_dm::app::main_with(|_| vec![Placed::at(LedBank::default(), &[PORT])])
}
