// SPDX-License-Identifier: MIT
//! Writes the seed inputs: `fuzz-seeds DIR` makes DIR/TARGET/NAME files.
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1) else {
        eprintln!("usage: fuzz-seeds DIR");
        return ExitCode::from(2);
    };
    for (target, name, bytes) in xdm_fuzz::seeds() {
        let d = std::path::Path::new(&dir).join(target);
        if let Err(e) =
            std::fs::create_dir_all(&d).and_then(|()| std::fs::write(d.join(name), bytes))
        {
            eprintln!("fuzz-seeds: {}: {e}", d.display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
