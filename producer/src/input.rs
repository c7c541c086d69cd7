//! The files `replay` and `import-history` read, and the report both print: a file is JSON lines
//! when its first line opens an object or an array, else CSV with a header line.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Lines};
use std::iter::Peekable;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};

/// An input file, opened as what its first line says it is.
pub enum InputFile {
    JsonLines(JsonLines),
    Csv(csv::Reader<File>),
}

impl InputFile {
    pub fn open(path: &Path) -> Result<InputFile> {
        let io = |source| Error::File { path: path.to_owned(), source };
        let mut lines = BufReader::new(File::open(path).map_err(io)?).lines().peekable();
        if matches!(lines.peek(), Some(Ok(first)) if first.trim_start().starts_with(['{', '['])) {
            return Ok(InputFile::JsonLines(JsonLines { path: path.to_owned(), lines, number: 0 }));
        }
        csv::Reader::from_path(path).map(InputFile::Csv).map_err(|e| csv_error(path, e))
    }
}

/// The non-blank lines of a JSON-lines file with their line numbers (from 1).
pub struct JsonLines {
    path: PathBuf,
    lines: Peekable<Lines<BufReader<File>>>,
    number: u64,
}

impl Iterator for JsonLines {
    type Item = Result<(u64, String)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let line = self.lines.next()?;
            self.number += 1;
            match line {
                Err(source) => return Some(Err(Error::File { path: self.path.clone(), source })),
                Ok(line) if line.trim().is_empty() => continue,
                Ok(line) => return Some(Ok((self.number, line))),
            }
        }
    }
}

/// A CSV error of `path`, with the line it is on.
pub fn csv_error(path: &Path, e: csv::Error) -> Error {
    let line = e.position().map_or(0, |p| p.line());
    Error::Input { path: path.to_owned(), line, message: e.to_string() }
}

/// What a command did with a file, printed as JSON.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// Data lines read (CSV rows, or non-blank JSON lines).
    pub read: u64,
    /// Stream entries (`replay`) or queue items (`import-history`, `import-factors`) written.
    pub written: u64,
    /// Lines not written, by reason.
    pub refused: BTreeMap<common::normalise::DeadReason, u64>,
    pub seconds: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_line_decides_the_kind_and_blank_lines_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("a.jsonl");
        std::fs::write(&json, "[{\"symbol\":\"600519.SH\"}]\n\n{\"b\":1}\n").unwrap();
        let InputFile::JsonLines(lines) = InputFile::open(&json).unwrap() else { panic!("JSON lines") };
        let read: Vec<(u64, String)> = lines.map(Result::unwrap).collect();
        assert_eq!(read, [(1, "[{\"symbol\":\"600519.SH\"}]".into()), (3, "{\"b\":1}".into())]);
        let csv = dir.path().join("a.csv");
        std::fs::write(&csv, "symbol,frame\n600519.SH,2023-01-03 09:31:00\n").unwrap();
        let InputFile::Csv(mut reader) = InputFile::open(&csv).unwrap() else { panic!("CSV") };
        assert_eq!(reader.records().count(), 1);
        assert!(matches!(InputFile::open(&dir.path().join("none")), Err(Error::File { .. })));
    }
}
