// SPDX-License-Identifier: GPL-2.0

//! virtio_rs' account of a card's imported buffers, in its debugfs `resources` file
//! (`/sys/kernel/debug/dri/<minor>/virtio_rs-resources`).

use crate::{Context, Res};

/// An imported buffer as virtio_rs shows it.
pub struct Import {
    /// The memory entries of its last mapping.
    pub entries: u32,
    /// The plane states that pin it for scanout.
    pub pinned: u32,
    /// Whether it is mapped (and then attached to the host: the file must say both or
    /// neither).
    pub mapped: bool,
}

/// The imported buffers of the card at `device` (`/dev/dri/cardN`), in the order of their
/// resource ids.
pub fn imports(device: &str) -> Res<Vec<Import>> {
    let minor = device
        .strip_prefix("/dev/dri/card")
        .ok_or(format!("{device}: not a /dev/dri/cardN"))?;
    let path = format!("/sys/kernel/debug/dri/{minor}/virtio_rs-resources");
    let text = std::fs::read_to_string(&path).ctx(format!("reading {path}"))?;
    let mut imports = Vec::new();
    for line in text.lines().filter(|l| l.contains(" import ")) {
        let field = |name: &str| {
            let mut words = line.split_whitespace();
            words.find(|w| *w == name).and(words.next())
        };
        let number = |name: &str| field(name).and_then(|v| v.parse().ok());
        let (Some(entries), Some(pinned), Some(mapped), Some(attached)) = (
            number("entries"),
            number("pinned"),
            field("mapped"),
            field("attached"),
        ) else {
            return Err(format!("{path}: cannot read '{line}'").into());
        };
        if mapped != attached {
            return Err(
                format!("{path}: mapped but not attached, or the reverse: '{line}'").into(),
            );
        }
        imports.push(Import {
            entries,
            pinned,
            mapped: mapped == "yes",
        });
    }
    Ok(imports)
}
