//! Shared rendering: progress bars, sizes, dates, paths.

use std::borrow::Cow;
use std::sync::RwLock;

use dvx::progress::{Progress, Unit};
use dvx::remote::TransferStats;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Progress bars on standard error, or nothing.
pub struct Bars {
    enabled: bool,
    bar: RwLock<ProgressBar>,
}

impl Bars {
    pub fn new(enabled: bool) -> Bars {
        Bars {
            enabled,
            bar: RwLock::new(ProgressBar::hidden()),
        }
    }
}

impl Progress for Bars {
    fn start(&self, what: &str, total: Option<u64>, unit: Unit) {
        if !self.enabled {
            return;
        }
        let bar = match total {
            Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr()),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
        };
        let template = match unit {
            Unit::Bytes => "{msg:>12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            Unit::Files => "{msg:>12} [{bar:30}] {pos}/{len} files {per_sec} eta {eta}",
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(what.to_owned());
        *self.bar.write().expect("progress lock poisoned") = bar;
    }

    fn advance(&self, n: u64) {
        if self.enabled {
            self.bar.read().expect("progress lock poisoned").inc(n);
        }
    }

    fn finish(&self) {
        if self.enabled {
            self.bar
                .read()
                .expect("progress lock poisoned")
                .finish_and_clear();
        }
    }
}

/// `1.5 MiB`, `512 B`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `2026-11-27 09:08:45 +0100`, in the signature's own offset.
pub fn date(time: i64, tz_minutes: i16) -> String {
    let local = time + i64::from(tz_minutes) * 60;
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} {}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        dvx::refs::format_tz(tz_minutes)
    )
}

/// Gregorian date from days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The local time zone's offset from UTC at `time`, in minutes.
#[cfg(unix)]
pub fn local_offset_minutes(time: i64) -> i16 {
    let t = time as libc::time_t;
    // SAFETY: localtime_r writes only into `tm`, which lives for the call.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
    if ok { (tm.tm_gmtoff / 60) as i16 } else { 0 }
}

#[cfg(not(unix))]
pub fn local_offset_minutes(_time: i64) -> i16 {
    0
}

/// A path under `root`, relative to it.
pub fn relative(root: &std::path::Path, path: &std::path::Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Paths under `root`, each relative to it.
pub fn relative_all(root: &std::path::Path, paths: &[std::path::PathBuf]) -> Vec<String> {
    paths.iter().map(|p| relative(root, p)).collect()
}

/// Paths under `root` as a space-separated list relative to it (for `git add ...`).
pub fn relative_list(root: &std::path::Path, paths: &[std::path::PathBuf]) -> String {
    relative_all(root, paths).join(" ")
}

/// A path as people should see it, quoted as git quotes paths (`core.quotePath`, its
/// default): a name with a control character, `"`, `\` or a non-ASCII byte is put in
/// double quotes, with C escapes (`\n`, `\t`, `\"`, `\\`) and octal (`\303\251`) for
/// the rest. Unlike git, a trailing space is quoted too, so it can be seen. Plain names
/// are left as they are; `--json` output never goes through here.
pub fn quote_path(path: &str) -> Cow<'_, str> {
    let needs_escape = |b: u8| b < 0x20 || b == b'"' || b == b'\\' || b >= 0x7f;
    if !path.bytes().any(needs_escape) && !path.ends_with(' ') {
        return Cow::Borrowed(path);
    }
    let mut out = String::with_capacity(path.len() + 2);
    out.push('"');
    for b in path.bytes() {
        match b {
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            0x0b => out.push_str("\\v"),
            0x0c => out.push_str("\\f"),
            b'\r' => out.push_str("\\r"),
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b if needs_escape(b) => out.push_str(&format!("\\{b:03o}")),
            b => out.push(char::from(b)),
        }
    }
    out.push('"');
    Cow::Owned(out)
}

/// A file's mode in git's numbers: `100755` when executable, else `100644`.
pub fn git_mode(executable: bool) -> &'static str {
    if executable { "100755" } else { "100644" }
}

/// `mode changed 100644 -> 100755`.
pub fn mode_change((old, new): (bool, bool)) -> String {
    format!("mode changed {} -> {}", git_mode(old), git_mode(new))
}

/// What a remote transfer cost, for people: `12.0 KiB in 4 requests, 0.31 s`.
pub fn transfer(stats: &TransferStats) -> String {
    format!(
        "{} in {}, {:.2} s",
        size(stats.bytes),
        plural(stats.requests as usize, "request", "requests"),
        stats.elapsed.as_secs_f64()
    )
}

/// `1 file`, `3 files`.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_dates_and_sizes() {
        assert_eq!(date(0, 0), "1970-01-01 00:00:00 +0000");
        assert_eq!(date(1_700_000_000, 60), "2023-11-14 23:13:20 +0100");
        assert_eq!(date(951_782_400, 0), "2000-02-29 00:00:00 +0000");
        assert_eq!(size(512), "512 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(plural(1, "file", "files"), "1 file");
        assert_eq!(mode_change((false, true)), "mode changed 100644 -> 100755");
    }

    #[test]
    fn quotes_paths_as_git_does() {
        assert_eq!(quote_path("data/a b.csv"), "data/a b.csv");
        assert!(matches!(quote_path("data/x"), Cow::Borrowed(_)));
        assert_eq!(quote_path("a\nb"), r#""a\nb""#);
        assert_eq!(quote_path("a\tb"), r#""a\tb""#);
        assert_eq!(quote_path("say \"hi\""), r#""say \"hi\"""#);
        assert_eq!(quote_path("back\\slash"), r#""back\\slash""#);
        assert_eq!(quote_path("bell\u{7}\u{1b}\u{7f}"), r#""bell\a\033\177""#);
        assert_eq!(quote_path("caf\u{e9}"), r#""caf\303\251""#);
        assert_eq!(quote_path("trailing "), r#""trailing ""#);
        assert_eq!(quote_path(" leading"), " leading");
    }
}
