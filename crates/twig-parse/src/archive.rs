//! Zip handling with bomb protection: `expand_zip` for uploads and a bounded reader for OOXML.

use crate::error::ParseError;
use crate::types::{Limits, ZipEntry};
use std::io::{Cursor, Read};
use zip::ZipArchive;

/// Entries smaller than this are never refused for their compression ratio (tiny files compress well).
const RATIO_FLOOR: u64 = 1024 * 1024;

/// Expands one level of a zip upload into its files.
///
/// Skips directories, `__MACOSX/`, dotfiles and OS junk. Nested archives are *not* expanded
/// and are left out of the result, but they are inspected: one that itself nests archives
/// (42.zip style) or declares more than the limits is refused with [`ParseError::ZipBomb`].
/// Unsafe names (`..`, absolute paths) are refused with [`ParseError::Corrupt`], encrypted
/// entries with [`ParseError::Encrypted`].
pub fn expand_zip(bytes: &[u8], limits: &Limits) -> Result<Vec<ZipEntry>, ParseError> {
    crate::error::guard("zip", || expand_inner(bytes, limits))
}

fn expand_inner(bytes: &[u8], limits: &Limits) -> Result<Vec<ZipEntry>, ParseError> {
    if bytes.len() as u64 > limits.max_zip_bytes {
        return Err(ParseError::TooLarge {
            size: bytes.len() as u64,
            limit: limits.max_zip_bytes,
        });
    }
    let mut zip = BoundedZip::open(bytes, limits, "zip")?;
    let mut out = Vec::new();
    for i in 0..zip.archive.len() {
        let info = zip.info(i)?;
        if info.is_dir || is_junk(&info.name) {
            continue;
        }
        if !is_safe_name(&info.name) {
            return Err(ParseError::corrupt(
                "zip",
                format!("unsafe entry name {:?} (path traversal)", info.name),
            ));
        }
        let data = zip.read_index(i)?;
        if is_archive(&info.name, &data) {
            check_nested(&data, &info.name, limits)?;
            continue; // one level only: nested archives are skipped
        }
        out.push(ZipEntry {
            name: info.name.replace('\\', "/"),
            bytes: data,
        });
    }
    Ok(out)
}

/// Refuses a nested archive that nests further or declares a bomb-sized payload.
fn check_nested(bytes: &[u8], name: &str, limits: &Limits) -> Result<(), ParseError> {
    let Ok(mut inner) = ZipArchive::new(Cursor::new(bytes)) else {
        return Ok(()); // not really a zip: it is skipped anyway
    };
    let mut declared: u64 = 0;
    for i in 0..inner.len() {
        let Ok(f) = inner.by_index_raw(i) else {
            continue;
        };
        let fname = f.name().map(|n| n.into_owned()).unwrap_or_default();
        if is_archive_name(&fname) {
            return Err(ParseError::zip_bomb(format!(
                "nested archive {name:?} contains further archives ({fname:?})"
            )));
        }
        declared = declared.saturating_add(f.size());
        if f.size() > RATIO_FLOOR && f.size() / f.compressed_size().max(1) > limits.max_zip_ratio {
            return Err(ParseError::zip_bomb(format!(
                "nested archive {name:?} has an entry compressed more than {}:1",
                limits.max_zip_ratio
            )));
        }
    }
    if declared > limits.max_zip_uncompressed {
        return Err(ParseError::zip_bomb(format!(
            "nested archive {name:?} would expand to {declared} bytes"
        )));
    }
    Ok(())
}

/// Directories and files nobody wants indexed.
fn is_junk(name: &str) -> bool {
    let name = name.replace('\\', "/");
    name.starts_with("__MACOSX/")
        || name
            .split('/')
            .any(|c| c.starts_with('.') && c != "." && c != "..")
        || matches!(
            name.rsplit('/').next(),
            Some("Thumbs.db") | Some("desktop.ini")
        )
}

/// Relative, no `..`, no drive letters, no NULs.
fn is_safe_name(name: &str) -> bool {
    let name = name.replace('\\', "/");
    if name.is_empty() || name.starts_with('/') || name.contains('\0') {
        return false;
    }
    if name.len() >= 2 && name.as_bytes()[1] == b':' {
        return false;
    }
    !name.split('/').any(|c| c == "..")
}

fn is_archive_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [".zip", ".jar", ".7z", ".rar", ".tar", ".gz", ".tgz"]
        .iter()
        .any(|e| lower.ends_with(e))
}

fn is_archive(name: &str, data: &[u8]) -> bool {
    // Office files are zips too, but they are documents, not nested archives.
    let office = crate::detect::extension(name)
        .and_then(|e| crate::detect::by_extension(&e))
        .is_some();
    is_archive_name(name) || (!office && data.starts_with(b"PK\x03\x04"))
}

/// Facts about one entry taken from the central directory.
pub(crate) struct EntryInfo {
    pub name: String,
    pub is_dir: bool,
}

/// A zip archive whose reads are bounded by [`Limits`] (size, ratio, total, count).
pub(crate) struct BoundedZip<'a> {
    pub archive: ZipArchive<Cursor<&'a [u8]>>,
    limits: Limits,
    total: u64,
    format: &'static str,
}

impl<'a> BoundedZip<'a> {
    /// Opens an archive, refusing absurd entry counts before parsing the central directory.
    pub fn open(
        bytes: &'a [u8],
        limits: &Limits,
        format: &'static str,
    ) -> Result<Self, ParseError> {
        // Each entry has a central-directory header; counting signatures bounds the work
        // before the zip crate allocates one record per declared entry.
        let headers = count_signature(bytes, b"PK\x01\x02");
        if headers > limits.max_zip_entries {
            return Err(ParseError::zip_bomb(format!(
                "more than {} entries",
                limits.max_zip_entries
            )));
        }
        let archive = ZipArchive::new(Cursor::new(bytes)).map_err(|e| {
            ParseError::corrupt(format, format!("not a readable zip archive ({e})"))
        })?;
        if archive.len() > limits.max_zip_entries {
            return Err(ParseError::zip_bomb(format!(
                "{} entries exceed the limit of {}",
                archive.len(),
                limits.max_zip_entries
            )));
        }
        let mut zip = BoundedZip {
            archive,
            limits: limits.clone(),
            total: 0,
            format,
        };
        zip.check_declared()?;
        Ok(zip)
    }

    /// Refuses from the central directory alone (nothing inflated) when declared sizes are bomb-like.
    fn check_declared(&mut self) -> Result<(), ParseError> {
        let mut declared_total: u64 = 0;
        for i in 0..self.archive.len() {
            let Ok(f) = self.archive.by_index_raw(i) else {
                continue; // reported when (if) the entry is actually read
            };
            let (size, packed) = (f.size(), f.compressed_size().max(1));
            if size > RATIO_FLOOR && size / packed > self.limits.max_zip_ratio {
                return Err(ParseError::zip_bomb(format!(
                    "entry {:?} is compressed {}:1 (limit {}:1)",
                    f.name().unwrap_or_default(),
                    size / packed,
                    self.limits.max_zip_ratio
                )));
            }
            declared_total = declared_total.saturating_add(size);
        }
        if declared_total > self.limits.max_zip_uncompressed {
            return Err(ParseError::zip_bomb(format!(
                "archive declares {declared_total} uncompressed bytes (limit {})",
                self.limits.max_zip_uncompressed
            )));
        }
        Ok(())
    }

    /// Name and kind of entry `i`.
    pub fn info(&mut self, i: usize) -> Result<EntryInfo, ParseError> {
        let f = self
            .archive
            .by_index_raw(i)
            .map_err(|e| ParseError::corrupt(self.format, e))?;
        Ok(EntryInfo {
            name: f
                .name()
                .map_err(|e| ParseError::corrupt(self.format, e))?
                .into_owned(),
            is_dir: f.is_dir(),
        })
    }

    /// Reads the named entry, or `None` if it does not exist.
    pub fn read_name(&mut self, name: &str) -> Result<Option<Vec<u8>>, ParseError> {
        match self.archive.index_for_name(name) {
            Some(i) => self.read_index(i).map(Some),
            None => Ok(None),
        }
    }

    /// Reads entry `i`, enforcing declared and actual size, ratio and the running total.
    pub fn read_index(&mut self, i: usize) -> Result<Vec<u8>, ParseError> {
        let (name, declared, compressed, encrypted) = {
            let f = self
                .archive
                .by_index_raw(i)
                .map_err(|e| ParseError::corrupt(self.format, e))?;
            let name = f.name().map(|n| n.into_owned()).unwrap_or_default();
            (name, f.size(), f.compressed_size(), f.encrypted())
        };
        if encrypted {
            return Err(ParseError::Encrypted {
                what: format!("archive entry {name:?}"),
            });
        }
        let l = &self.limits;
        if declared > RATIO_FLOOR && declared / compressed.max(1) > l.max_zip_ratio {
            return Err(ParseError::zip_bomb(format!(
                "entry {name:?} is compressed {}:1 (limit {}:1)",
                declared / compressed.max(1),
                l.max_zip_ratio
            )));
        }
        if declared > l.max_file_bytes {
            return Err(ParseError::TooLarge {
                size: declared,
                limit: l.max_file_bytes,
            });
        }
        let remaining = l.max_zip_uncompressed.saturating_sub(self.total);
        if declared > remaining {
            return Err(ParseError::zip_bomb(format!(
                "archive expands to more than {} bytes",
                l.max_zip_uncompressed
            )));
        }
        // Declared sizes can lie: never inflate more than the (already checked) declared size.
        let mut data = Vec::with_capacity(declared as usize);
        let f = self
            .archive
            .by_index(i)
            .map_err(|e| ParseError::corrupt(self.format, e))?;
        let read = f.take(declared.saturating_add(1)).read_to_end(&mut data);
        // The zip crate itself errors once an entry outgrows its declared size.
        if data.len() as u64 > declared || (read.is_err() && data.len() as u64 >= declared) {
            return Err(ParseError::zip_bomb(format!(
                "entry {name:?} inflates beyond its declared size of {declared} bytes"
            )));
        }
        read.map_err(|e| ParseError::corrupt(self.format, format!("entry {name:?}: {e}")))?;
        self.total += data.len() as u64;
        Ok(data)
    }

    /// Inflates every entry once (discarding data) so bombs are caught before another parser runs.
    pub fn check_all(&mut self) -> Result<(), ParseError> {
        for i in 0..self.archive.len() {
            // Data is dropped right away, so peak memory stays at one entry.
            self.read_index(i)?;
        }
        Ok(())
    }
}

/// Counts occurrences of a 4-byte signature.
fn count_signature(bytes: &[u8], sig: &[u8; 4]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i + 4 <= bytes.len() {
        match bytes[i..].iter().position(|b| *b == sig[0]) {
            Some(p) => {
                i += p;
                if bytes[i..].starts_with(sig) {
                    n += 1;
                }
                i += 1;
            }
            None => break,
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(!is_safe_name("../etc/passwd"));
        assert!(!is_safe_name("/abs"));
        assert!(!is_safe_name("a\\..\\b"));
        assert!(!is_safe_name("C:/x"));
        assert!(is_safe_name("dir/file.txt"));
        assert!(is_junk("__MACOSX/._a.txt"));
        assert!(is_junk("dir/.DS_Store"));
        assert!(!is_junk("dir/a.txt"));
    }

    #[test]
    fn signature_count() {
        assert_eq!(
            count_signature(b"xxPK\x01\x02PK\x01\x02P", b"PK\x01\x02"),
            2
        );
    }
}
