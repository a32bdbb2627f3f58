//! File type from the first bytes: a small table of signatures giving
//! libmagic-like descriptions ("PDF document, version 1.4", "PE32
//! executable (DLL), for MS Windows"), for `filemagic` / `file.magic` and
//! EVE `fileinfo.magic`. Far smaller than libmagic: formats seen in
//! malware delivery and everyday web traffic, then text or "data".

/// Bytes of a file's start the table looks at.
pub const MAGIC_HEAD: usize = 512;

/// The description of a file starting with `head` (at most [`MAGIC_HEAD`]
/// bytes are read); `None` for an empty file.
pub fn describe(head: &[u8]) -> Option<String> {
    let h = &head[..head.len().min(MAGIC_HEAD)];
    if h.is_empty() {
        return None;
    }
    Some(binary(h).unwrap_or_else(|| text(h).to_string()))
}

fn u16le(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}

fn u32le(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn u32be(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn contains(h: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(h, needle).is_some()
}

/// Binary formats by signature.
fn binary(h: &[u8]) -> Option<String> {
    if let Some(rest) = h.strip_prefix(b"%PDF-") {
        let v: String = rest
            .iter()
            .take_while(|c| c.is_ascii_digit() || **c == b'.')
            .take(8)
            .map(|c| char::from(*c))
            .collect();
        return Some(if v.is_empty() {
            "PDF document".into()
        } else {
            format!("PDF document, version {v}")
        });
    }
    if h.starts_with(b"MZ") {
        return Some(pe(h));
    }
    if h.starts_with(b"\x7fELF") {
        return Some(elf(h));
    }
    if h.starts_with(b"PK\x03\x04") {
        return Some(zip(h).into());
    }
    if h.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some(match (u32be(h, 16), u32be(h, 20)) {
            (Some(w), Some(ht)) if &h[12..16] == b"IHDR" => {
                format!("PNG image data, {w} x {ht}")
            }
            _ => "PNG image data".into(),
        });
    }
    if h.starts_with(b"GIF87a") || h.starts_with(b"GIF89a") {
        let v = if h[3..6] == *b"87a" { "87a" } else { "89a" };
        return Some(match (u16le(h, 6), u16le(h, 8)) {
            (Some(w), Some(ht)) => format!("GIF image data, version {v}, {w} x {ht}"),
            _ => format!("GIF image data, version {v}"),
        });
    }
    let fixed: &[(&[u8], &str)] = &[
        (b"\xff\xd8\xff", "JPEG image data"),
        (b"\x1f\x8b", "gzip compressed data"),
        (b"BZh", "bzip2 compressed data"),
        (b"\xfd7zXZ\x00", "XZ compressed data"),
        (b"7z\xbc\xaf\x27\x1c", "7-zip archive data"),
        (b"Rar!\x1a\x07", "RAR archive data"),
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
            "Composite Document File V2 Document",
        ),
        (b"{\\rtf", "Rich Text Format data"),
        (b"\xca\xfe\xba\xbe", "compiled Java class data"),
        (b"CWS", "Macromedia Flash data (compressed)"),
        (b"FWS", "Macromedia Flash data"),
        (b"ID3", "Audio file with ID3"),
        (b"OggS", "Ogg data"),
        (b"\x00\x00\x01\x00", "MS Windows icon resource"),
        (b"MSCF", "Microsoft Cabinet archive data"),
        (b"\x4c\x00\x00\x00\x01\x14\x02\x00", "MS Windows shortcut"),
        (b"-----BEGIN CERTIFICATE-----", "PEM certificate"),
    ];
    for (sig, name) in fixed {
        if h.starts_with(sig) {
            return Some((*name).into());
        }
    }
    if h.starts_with(b"RIFF") && h.len() >= 12 {
        let kind = match &h[8..12] {
            b"WAVE" => ", WAVE audio",
            b"AVI " => ", AVI",
            b"WEBP" => ", Web/P image",
            _ => "",
        };
        return Some(format!("RIFF (little-endian) data{kind}"));
    }
    if h.len() >= 12 && &h[4..8] == b"ftyp" {
        return Some("ISO Media".into());
    }
    None
}

/// MZ: a PE file when the header at `e_lfanew` says so.
fn pe(h: &[u8]) -> String {
    let Some(off) = u32le(h, 0x3c).map(|o| o as usize) else {
        return "MS-DOS executable".into();
    };
    if h.get(off..off.saturating_add(4)) != Some(b"PE\x00\x00") {
        return "MS-DOS executable".into();
    }
    let chars = u16le(h, off + 22).unwrap_or(0);
    let opt_magic = u16le(h, off + 24).unwrap_or(0);
    let bits = if opt_magic == 0x20b { "PE32+" } else { "PE32" };
    let subsystem = u16le(h, off + 24 + 68).unwrap_or(0);
    let kind = if chars & 0x2000 != 0 {
        "(DLL)"
    } else {
        match subsystem {
            2 => "(GUI)",
            3 => "(console)",
            1 => "(native)",
            _ => "",
        }
    };
    let machine = match u16le(h, off + 4).unwrap_or(0) {
        0x14c => " Intel 80386,",
        0x8664 => " x86-64,",
        0xaa64 => " Aarch64,",
        0x1c0 | 0x1c4 => " ARM,",
        _ => ",",
    };
    let sep = if kind.is_empty() { "" } else { " " };
    format!("{bits} executable{sep}{kind}{machine} for MS Windows")
}

fn elf(h: &[u8]) -> String {
    let class = match h.get(4) {
        Some(1) => "32-bit",
        Some(2) => "64-bit",
        _ => "invalid class",
    };
    let little = h.get(5) == Some(&1);
    let order = if little { "LSB" } else { "MSB" };
    let e_type = h.get(16..18).map_or(0, |t| {
        if little {
            u16::from_le_bytes([t[0], t[1]])
        } else {
            u16::from_be_bytes([t[0], t[1]])
        }
    });
    let kind = match e_type {
        1 => "relocatable",
        2 => "executable",
        3 => "shared object",
        4 => "core file",
        _ => "file",
    };
    format!("ELF {class} {order} {kind}")
}

/// Zip, or an Office Open XML / OpenDocument file (a zip whose first member
/// names tell).
fn zip(h: &[u8]) -> &'static str {
    if contains(h, b"mimetypeapplication/vnd.oasis.opendocument.text") {
        return "OpenDocument Text";
    }
    if contains(h, b"mimetypeapplication/vnd.oasis.opendocument.spreadsheet") {
        return "OpenDocument Spreadsheet";
    }
    if contains(h, b"word/") {
        return "Microsoft Word 2007+";
    }
    if contains(h, b"xl/") {
        return "Microsoft Excel 2007+";
    }
    if contains(h, b"ppt/") {
        return "Microsoft PowerPoint 2007+";
    }
    if contains(h, b"[Content_Types].xml") {
        return "Microsoft OOXML";
    }
    if contains(h, b"META-INF/") {
        return "Java archive data (JAR)";
    }
    "Zip archive data"
}

/// Text kinds, by the first bytes; "data" when not text.
fn text(h: &[u8]) -> &'static str {
    let (h, bom) = match h.strip_prefix(b"\xef\xbb\xbf") {
        Some(r) => (r, true),
        None => (h, false),
    };
    let printable = |c: u8| matches!(c, b'\t' | b'\n' | b'\r' | 0x0c | 0x1b | 0x20..=0x7e);
    let ascii = h.iter().all(|c| printable(*c));
    // A cut multi-byte sequence at the end of the head is still UTF-8.
    let utf8 = !ascii
        && match std::str::from_utf8(h) {
            Ok(s) => s.chars().all(|c| !c.is_control() || c.is_whitespace()),
            Err(e) => e.error_len().is_none() && e.valid_up_to() + 4 > h.len(),
        };
    if !(ascii || utf8) {
        return "data";
    }
    let start: Vec<u8> = h
        .iter()
        .skip_while(|c| c.is_ascii_whitespace())
        .take(16)
        .map(u8::to_ascii_lowercase)
        .collect();
    let html = start.starts_with(b"<!doctype html")
        || start.starts_with(b"<html")
        || start.starts_with(b"<head")
        || start.starts_with(b"<body")
        || start.starts_with(b"<script");
    match (
        html,
        start.starts_with(b"<?xml"),
        h.starts_with(b"#!"),
        ascii,
    ) {
        (true, _, _, true) => "HTML document, ASCII text",
        (true, _, _, false) => "HTML document, Unicode text, UTF-8 text",
        (_, true, _, _) => "XML 1.0 document, ASCII text",
        (_, _, true, _) => "script, ASCII text executable",
        (_, _, _, true) if bom => "Unicode text, UTF-8 (with BOM) text",
        (_, _, _, true) => "ASCII text",
        _ => "Unicode text, UTF-8 text",
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn common_signatures() {
        let d = |b: &[u8]| describe(b).unwrap();
        assert_eq!(
            d(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"),
            "PDF document, version 1.4"
        );
        assert_eq!(d(b"\x1f\x8b\x08\x00"), "gzip compressed data");
        assert_eq!(d(b"\xff\xd8\xff\xe0\x00\x10JFIF"), "JPEG image data");
        assert_eq!(
            d(b"GIF89a\x10\x00\x20\x00"),
            "GIF image data, version 89a, 16 x 32"
        );
        assert_eq!(
            d(b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x10\x00\x00\x00\x08"),
            "PNG image data, 16 x 8"
        );
        assert_eq!(d(b"<!DOCTYPE html>\n<html>"), "HTML document, ASCII text");
        assert_eq!(d(b"hello world\n"), "ASCII text");
        assert_eq!(d(b"caf\xc3\xa9\n"), "Unicode text, UTF-8 text");
        assert_eq!(d(b"\x00\x01\x02\x03"), "data");
        assert_eq!(describe(b""), None);
        assert_eq!(
            d(b"PK\x03\x04\x14\x00\x06\x00word/document.xml"),
            "Microsoft Word 2007+"
        );
        assert_eq!(
            d(b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x03\x00"),
            "ELF 64-bit LSB shared object"
        );
    }

    #[test]
    fn pe_header() {
        let mut h = vec![0u8; 0x200];
        h[..2].copy_from_slice(b"MZ");
        h[0x3c] = 0x80;
        h[0x80..0x84].copy_from_slice(b"PE\0\0");
        h[0x84..0x86].copy_from_slice(&0x14cu16.to_le_bytes());
        h[0x80 + 22..0x80 + 24].copy_from_slice(&0x2102u16.to_le_bytes());
        h[0x80 + 24..0x80 + 26].copy_from_slice(&0x10bu16.to_le_bytes());
        assert_eq!(
            describe(&h).unwrap(),
            "PE32 executable (DLL) Intel 80386, for MS Windows"
        );
        // e_lfanew past the head: only the DOS stub is known.
        h[0x3c] = 0xff;
        h[0x3d] = 0xff;
        assert_eq!(describe(&h).unwrap(), "MS-DOS executable");
        // Truncated anywhere: no panic.
        for n in 0..h.len() {
            let _ = describe(&h[..n]);
        }
    }
}
