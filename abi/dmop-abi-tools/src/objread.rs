// SPDX-License-Identifier: MIT
//! Reads the bytes of a named data symbol out of a relocatable ELF object,
//! for any of the four targets (all little-endian).

use std::fs;
use std::path::Path;

use object::{Object, ObjectSection, ObjectSymbol};

/// The bytes of symbol `name` in the object at `path`.
pub fn symbol_bytes(path: &Path, name: &str) -> Result<Vec<u8>, String> {
    let data = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let file = object::File::parse(&*data)
        .map_err(|e| format!("{}: not an object file: {e}", path.display()))?;
    if !file.is_little_endian() {
        return Err(format!(
            "{}: big-endian objects are not supported",
            path.display()
        ));
    }
    let sym = file
        .symbols()
        .find(|s| s.name() == Ok(name))
        .ok_or_else(|| format!("{}: no symbol {name}", path.display()))?;
    let index = sym
        .section_index()
        .ok_or_else(|| format!("{name} is not defined in a section"))?;
    let section = file.section_by_index(index).map_err(|e| e.to_string())?;
    let bytes = section.data().map_err(|e| e.to_string())?;
    // In a relocatable object a symbol's value is its offset in its section.
    let start = (sym.address() - section.address()) as usize;
    let end = start + sym.size() as usize;
    bytes
        .get(start..end)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| format!("{name}: outside its section"))
}

/// Little-endian `u64`s.
pub fn le_u64s(bytes: &[u8]) -> Vec<u64> {
    bytes
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect()
}
