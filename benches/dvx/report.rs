//! Result rows: each dvx number, the limit it is compared with, the ratio, the target
//! and the verdict; printed as a table and written as JSON.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use serde_json::{Value, json};

use crate::Result;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Unit {
    Secs,
    KibPerFile,
    /// Requests made to a remote.
    Requests,
    /// Bytes moved over the wire.
    Bytes,
}

impl Unit {
    fn symbol(self) -> &'static str {
        match self {
            Unit::Secs => "s",
            Unit::KibPerFile => "KiB/file",
            Unit::Requests => "requests",
            Unit::Bytes => "B",
        }
    }

    /// A value (or reference) in this unit, for the table.
    fn text(self, v: f64) -> String {
        match self {
            Unit::Secs => format!("{v:.3} s"),
            Unit::KibPerFile => format!("{v:.3} KiB/file"),
            Unit::Requests => format!("{v:.0} req"),
            Unit::Bytes if v >= (1 << 20) as f64 => format!("{:.1} MiB", v / (1 << 20) as f64),
            Unit::Bytes if v >= 1024.0 => format!("{:.1} KiB", v / 1024.0),
            Unit::Bytes => format!("{v:.0} B"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    /// Informational: no target.
    None,
    /// value / reference must be at most this.
    RatioAtMost(f64),
    /// value must be at most this (in the row's unit).
    AtMost(f64),
}

impl Target {
    fn describe(self, unit: Unit) -> String {
        match self {
            Target::None => "-".into(),
            Target::RatioAtMost(r) if r < 1.0 => format!("<= {:.0}%", r * 100.0),
            Target::RatioAtMost(r) => format!("<= {r}x"),
            Target::AtMost(v) => format!("<= {v} {}", unit.symbol()),
        }
    }
}

pub struct Row {
    pub scenario: String,
    pub value: Option<f64>,
    pub unit: Unit,
    /// What the value is compared with (a limit, another dvx number, or a note).
    pub reference_name: String,
    pub reference: Option<f64>,
    pub target: Target,
    pub error: Option<String>,
}

impl Row {
    /// A row comparing `value` seconds with `reference` seconds.
    pub fn secs(
        scenario: &str,
        value: f64,
        reference_name: &str,
        reference: Option<f64>,
        target: Target,
    ) -> Row {
        Row {
            scenario: scenario.into(),
            value: Some(value),
            unit: Unit::Secs,
            reference_name: reference_name.into(),
            reference,
            target,
            error: None,
        }
    }

    /// A row counting something other than seconds (requests, bytes), compared with a
    /// reference in the same unit.
    pub fn count(
        scenario: &str,
        value: f64,
        unit: Unit,
        reference_name: &str,
        reference: Option<f64>,
        target: Target,
    ) -> Row {
        Row {
            unit,
            ..Row::secs(scenario, value, reference_name, reference, target)
        }
    }

    /// A peak-memory row: `peak_kib` spread over `files` tracked files.
    pub fn memory(scenario: &str, peak_kib: u64, files: usize, target: Target) -> Row {
        Row {
            scenario: scenario.into(),
            value: Some(peak_kib as f64 / files.max(1) as f64),
            unit: Unit::KibPerFile,
            reference_name: format!("peak {:.1} MiB / {files} files", peak_kib as f64 / 1024.0),
            reference: None,
            target,
            error: None,
        }
    }

    /// A scenario that could not be measured.
    pub fn failed(scenario: &str, error: String) -> Row {
        Row {
            scenario: scenario.into(),
            value: None,
            unit: Unit::Secs,
            reference_name: String::new(),
            reference: None,
            target: Target::None,
            error: Some(error),
        }
    }

    pub fn ratio(&self) -> Option<f64> {
        let reference = self.reference.filter(|r| *r > 0.0)?;
        Some(self.value? / reference)
    }

    pub fn verdict(&self) -> &'static str {
        if self.error.is_some() {
            return "FAILED";
        }
        let met = match self.target {
            Target::None => return "info",
            Target::RatioAtMost(max) => self.ratio().map(|r| r <= max),
            Target::AtMost(max) => self.value.map(|v| v <= max),
        };
        match met {
            Some(true) => "PASS",
            Some(false) => "MISS",
            None => "n/a",
        }
    }
}

#[derive(Default)]
pub struct Report {
    pub rows: Vec<Row>,
    /// Scenarios not run, with the reason.
    pub skipped: Vec<(String, String)>,
}

impl Report {
    pub fn push(&mut self, row: Row) {
        match &row.error {
            Some(e) => println!("  {:<28} FAILED: {e}", row.scenario),
            None => {
                let vs = match (row.reference_name.as_str(), row.reference) {
                    ("" | "-", _) => String::new(),
                    (name, Some(r)) => format!("  (vs {name} {})", row.unit.text(r)),
                    (name, None) => format!("  ({name})"),
                };
                println!("  {:<28} {}{vs}", row.scenario, value_text(&row));
            }
        }
        self.rows.push(row);
    }

    pub fn skip(&mut self, scenario: &str, why: &str) {
        println!("  {scenario}: {why}, skipped");
        self.skipped.push((scenario.into(), why.into()));
    }

    pub fn table(&self) -> String {
        let mut out = String::new();
        let header = (
            "scenario",
            "dvx",
            "reference",
            "ref",
            "ratio",
            "target",
            "verdict",
        );
        let line = |out: &mut String, c: (&str, &str, &str, &str, &str, &str, &str)| {
            let _ = writeln!(
                out,
                "{:<28} {:>16}  {:<30} {:>11} {:>8}  {:<14} {}",
                c.0, c.1, c.2, c.3, c.4, c.5, c.6
            );
        };
        line(&mut out, header);
        for row in &self.rows {
            let reference = row
                .reference
                .map_or_else(|| "-".into(), |r| row.unit.text(r));
            let ratio = row
                .ratio()
                .map_or_else(|| "-".into(), |r| ratio_text(r, row.target));
            let target = row.target.describe(row.unit);
            let value = value_text(row);
            line(
                &mut out,
                (
                    &row.scenario,
                    &value,
                    &row.reference_name,
                    &reference,
                    &ratio,
                    &target,
                    row.verdict(),
                ),
            );
        }
        for (scenario, why) in &self.skipped {
            let _ = writeln!(out, "{scenario:<28} skipped: {why}");
        }
        let failed: Vec<&Row> = self.rows.iter().filter(|r| r.error.is_some()).collect();
        if !failed.is_empty() {
            out.push_str("\nfailures:\n");
            for row in failed {
                let _ = writeln!(
                    out,
                    "  {}: {}",
                    row.scenario,
                    row.error.as_deref().unwrap_or("")
                );
            }
        }
        out
    }

    pub fn write_json(&self, path: &Path, config: &Value, limits: &Value) -> Result<()> {
        let rows: Vec<Value> = self.rows.iter().map(row_json).collect();
        let skipped: Vec<Value> = self
            .skipped
            .iter()
            .map(|(s, why)| json!({ "scenario": s, "reason": why }))
            .collect();
        let doc =
            json!({ "config": config, "limits_secs": limits, "rows": rows, "skipped": skipped });
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        }
        let text = serde_json::to_string_pretty(&doc).expect("JSON values always serialize");
        fs::write(path, text + "\n").map_err(|e| format!("write {}: {e}", path.display()))
    }
}

fn row_json(row: &Row) -> Value {
    let target = match row.target {
        Target::None => Value::Null,
        Target::RatioAtMost(r) => json!({ "max_ratio": r }),
        Target::AtMost(v) => json!({ "max_value": v }),
    };
    json!({
        "scenario": row.scenario,
        "value": row.value,
        "unit": row.unit.symbol(),
        "reference_name": row.reference_name,
        "reference": row.reference,
        "ratio": row.ratio(),
        "target": target,
        "verdict": row.verdict(),
        "error": row.error,
    })
}

fn value_text(row: &Row) -> String {
    row.value.map_or_else(|| "-".into(), |v| row.unit.text(v))
}

/// A ratio as a percentage when its target is one (under 1x), else as a multiple.
fn ratio_text(r: f64, target: Target) -> String {
    match target {
        Target::RatioAtMost(max) if max < 1.0 => format!("{:.1}%", r * 100.0),
        _ => format!("{r:.2}x"),
    }
}
