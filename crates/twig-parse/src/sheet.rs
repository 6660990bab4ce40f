//! Spreadsheets (calamine) and CSV: rows rendered as `Header: value; ...`, grouped per sheet.

use crate::archive::BoundedZip;
use crate::error::ParseError;
use crate::types::{Format, Limits, ParsedDocument, Section};
use calamine::{Data, Reader, Xlsx};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::io::Cursor;

/// Rows per section: keeps sections bounded for chunking and citation.
pub(crate) const ROWS_PER_SECTION: usize = 100;

/// Renders rows under a header; the first non-empty row is the header.
struct RowWriter {
    heading: Vec<String>,
    header: Option<Vec<String>>,
    rows_in_section: usize,
    buf: String,
    sections: Vec<Section>,
    rows: usize,
}

impl RowWriter {
    fn new(heading: Vec<String>) -> Self {
        RowWriter {
            heading,
            header: None,
            rows_in_section: 0,
            buf: String::new(),
            sections: Vec::new(),
            rows: 0,
        }
    }

    fn row(&mut self, cells: Vec<String>) {
        let cells: Vec<String> = cells
            .into_iter()
            .map(|c| crate::sections::squash_ws(&c))
            .collect();
        if cells.iter().all(|c| c.is_empty()) {
            return;
        }
        let Some(header) = &self.header else {
            self.header = Some(cells);
            return;
        };
        let mut line = String::new();
        for (i, v) in cells.iter().enumerate() {
            if v.is_empty() {
                continue;
            }
            if !line.is_empty() {
                line.push_str("; ");
            }
            if let Some(h) = header.get(i).filter(|h| !h.is_empty()) {
                line.push_str(h);
                line.push_str(": ");
            }
            line.push_str(v);
        }
        if !self.buf.is_empty() {
            self.buf.push('\n');
        }
        self.buf.push_str(&line);
        self.rows += 1;
        self.rows_in_section += 1;
        if self.rows_in_section >= ROWS_PER_SECTION
            || self.buf.len() >= crate::sections::MAX_SECTION_CHARS
        {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if !self.buf.is_empty() {
            self.sections.push(Section {
                heading_path: self.heading.clone(),
                text: std::mem::take(&mut self.buf),
                page: None,
            });
        }
        self.rows_in_section = 0;
    }

    /// Sections; a header-only table is still emitted so its column names are searchable.
    fn finish(mut self) -> (Vec<Section>, usize) {
        self.flush();
        if self.rows == 0 {
            if let Some(h) = self.header.take() {
                let text = h
                    .into_iter()
                    .filter(|c| !c.is_empty())
                    .collect::<Vec<_>>()
                    .join("; ");
                self.sections.push(Section {
                    heading_path: self.heading.clone(),
                    text,
                    page: None,
                });
            }
        }
        (self.sections, self.rows)
    }
}

/// Formats a cell; dates as ISO 8601, whole floats without ".0".
fn cell_text(d: &Data) -> String {
    match d {
        Data::Empty => String::new(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::DateTime(dt) => match dt.as_datetime() {
            Some(t) => {
                let full = t.format("%Y-%m-%d %H:%M:%S").to_string();
                match full.strip_suffix(" 00:00:00") {
                    Some(date) => date.to_owned(),
                    None => full,
                }
            }
            None => dt.to_string(),
        },
        Data::Error(e) => format!("#{e:?}"),
        other => other.to_string(),
    }
}

/// Parses XLSX/XLSM (streaming cells) and XLS/XLSB/ODS (via calamine ranges).
pub(crate) fn parse_spreadsheet(
    bytes: &[u8],
    limits: &Limits,
) -> Result<ParsedDocument, ParseError> {
    let is_zip = bytes.starts_with(b"PK");
    if is_zip {
        // calamine inflates parts itself; verify sizes and ratios first so a bomb never reaches it.
        BoundedZip::open(bytes, limits, "spreadsheet")?.check_all()?;
    } else {
        if crate::ooxml::is_encrypted_package(bytes) {
            return Err(ParseError::Encrypted {
                what: "Excel workbook".into(),
            });
        }
    }
    let is_xlsx = is_zip && zip_has(bytes, "xl/workbook.xml");
    let mut sections = Vec::new();
    let mut sheets_meta = Vec::new();
    let mut total_rows = 0;
    if is_xlsx {
        let mut wb: Xlsx<_> =
            Xlsx::new(Cursor::new(bytes)).map_err(|e| ParseError::corrupt("XLSX", e))?;
        for name in wb.sheet_names() {
            let mut rows: BTreeMap<u32, Vec<(u32, String)>> = BTreeMap::new();
            let mut reader = wb
                .worksheet_cells_reader(&name)
                .map_err(|e| ParseError::corrupt("XLSX", e))?;
            // Streaming keeps memory proportional to real cells, not the declared sheet dimension.
            while let Some(cell) = reader
                .next_cell()
                .map_err(|e| ParseError::corrupt("XLSX", e))?
            {
                let (r, c) = cell.get_position();
                let text = cell_text(&Data::from(cell.get_value().clone()));
                if !text.is_empty() {
                    rows.entry(r).or_default().push((c, text));
                }
            }
            let mut w = RowWriter::new(vec![name.clone()]);
            for (_, cells) in rows {
                w.row(dense(cells));
            }
            let (s, n) = w.finish();
            total_rows += n;
            sheets_meta.push(Value::from(name));
            sections.extend(s);
        }
    } else {
        let mut wb = calamine::open_workbook_auto_from_rs(Cursor::new(bytes))
            .map_err(|e| ParseError::corrupt("spreadsheet", e))?;
        for name in wb.sheet_names() {
            let range = wb
                .worksheet_range(&name)
                .map_err(|e| ParseError::corrupt("spreadsheet", e))?;
            let mut w = RowWriter::new(vec![name.clone()]);
            for row in range.rows() {
                w.row(row.iter().map(cell_text).collect());
            }
            let (s, n) = w.finish();
            total_rows += n;
            sheets_meta.push(Value::from(name));
            sections.extend(s);
        }
    }
    let mut metadata = Map::new();
    metadata.insert("sheets".into(), Value::Array(sheets_meta));
    metadata.insert("rows".into(), Value::from(total_rows));
    let title = if is_zip {
        BoundedZip::open(bytes, limits, "XLSX")
            .ok()
            .and_then(|mut z| crate::ooxml::core_title(&mut z, "XLSX"))
    } else {
        None
    };
    Ok(ParsedDocument {
        title,
        sections,
        format: Format::Xlsx,
        metadata,
    })
}

fn zip_has(bytes: &[u8], name: &str) -> bool {
    zip::ZipArchive::new(Cursor::new(bytes))
        .map(|z| z.index_for_name(name).is_some())
        .unwrap_or(false)
}

/// Sparse (column, text) pairs to a dense row, capped so a cell at column XFD stays cheap.
fn dense(mut cells: Vec<(u32, String)>) -> Vec<String> {
    cells.sort_by_key(|(c, _)| *c);
    let width = cells
        .last()
        .map(|(c, _)| *c as usize + 1)
        .unwrap_or(0)
        .min(16_384);
    let mut row = vec![String::new(); width];
    for (c, t) in cells {
        if let Some(slot) = row.get_mut(c as usize) {
            *slot = t;
        }
    }
    row
}

/// Parses CSV/TSV, sniffing the delimiter from the first line.
pub(crate) fn parse_csv(filename: &str, bytes: &[u8]) -> Result<ParsedDocument, ParseError> {
    let (text, encoding) = crate::text::decode_text(bytes)?;
    let first = text.lines().next().unwrap_or_default();
    let count = |c: char| first.matches(c).count();
    let tsv = matches!(
        crate::detect::extension(filename).as_deref(),
        Some("tsv") | Some("tab")
    );
    let delim = if tsv || count('\t') > count(',') && count('\t') >= count(';') {
        b'\t'
    } else if count(';') > count(',') {
        b';'
    } else {
        b','
    };
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delim)
        .from_reader(text.as_bytes());
    let mut w = RowWriter::new(Vec::new());
    for rec in rdr.records() {
        let rec = rec.map_err(|e| ParseError::corrupt("CSV", e))?;
        w.row(rec.iter().map(str::to_owned).collect());
    }
    let (sections, rows) = w.finish();
    let mut metadata = Map::new();
    metadata.insert("rows".into(), Value::from(rows));
    metadata.insert("encoding".into(), Value::from(encoding));
    metadata.insert("delimiter".into(), Value::from((delim as char).to_string()));
    Ok(ParsedDocument {
        title: None,
        sections,
        format: Format::Csv,
        metadata,
    })
}
