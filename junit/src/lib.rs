//! JUnit XML, the report format CI servers (Jenkins, GitLab) read test results from: a typed
//! model of `<testsuites>` > `<testsuite>` > `<testcase>` and its writer. The suites' counts
//! are taken from their testcases when written, so they cannot disagree with them. Every name,
//! value and text is escaped: nothing a user gives can break the document or become markup.
#![forbid(unsafe_code)]

use std::fmt::Write;
use std::path::{Path, PathBuf};

/// The whole file: one or more suites.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Testsuites {
    pub name: String,
    pub suites: Vec<Testsuite>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Testsuite {
    pub name: String,
    /// When it started, seconds since the Unix epoch (written in UTC, as JUnit's
    /// `YYYY-MM-DDThh:mm:ss` without a zone).
    pub timestamp_unix_s: Option<f64>,
    /// Seconds.
    pub time_s: f64,
    pub properties: Vec<Property>,
    pub cases: Vec<Testcase>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    pub name: String,
    pub value: String,
}

impl Property {
    pub fn new(name: impl Into<String>, value: impl ToString) -> Property {
        Property { name: name.into(), value: value.to_string() }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Testcase {
    pub name: String,
    pub classname: String,
    pub time_s: f64,
    pub properties: Vec<Property>,
    pub outcome: Outcome,
    /// Shown beside the result (the figures, in words).
    pub system_out: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub enum Outcome {
    #[default]
    Passed,
    /// The check ran and did not hold. `message` is one line; `text` may say more.
    Failure { kind: String, message: String, text: String },
    /// The check could not run to its end (not a verdict on what it checks).
    Error { kind: String, message: String, text: String },
    /// Not judged.
    Skipped { message: String },
}

impl Testcase {
    pub fn new(classname: &str, name: impl Into<String>) -> Testcase {
        Testcase { name: name.into(), classname: classname.to_string(), ..Default::default() }
    }

    /// A failure whose text is one line each, and whose message (what a CI server shows in one
    /// line) the first few joined, with how many more there are.
    pub fn fail(&mut self, kind: &str, lines: &[String]) {
        const SHOWN: usize = 3;
        let mut message = lines.iter().take(SHOWN).cloned().collect::<Vec<_>>().join("; ");
        if lines.len() > SHOWN {
            message += &format!("; and {} more", lines.len() - SHOWN);
        }
        self.outcome = Outcome::Failure { kind: kind.to_string(), message, text: lines.join("\n") };
    }
}

/// How many of the cases passed, failed, erred and were skipped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub tests: usize,
    pub failures: usize,
    pub errors: usize,
    pub skipped: usize,
}

impl Counts {
    fn of(cases: &[Testcase]) -> Counts {
        let mut c = Counts { tests: cases.len(), ..Default::default() };
        for t in cases {
            match t.outcome {
                Outcome::Passed => {}
                Outcome::Failure { .. } => c.failures += 1,
                Outcome::Error { .. } => c.errors += 1,
                Outcome::Skipped { .. } => c.skipped += 1,
            }
        }
        c
    }

    fn add(self, o: Counts) -> Counts {
        Counts {
            tests: self.tests + o.tests,
            failures: self.failures + o.failures,
            errors: self.errors + o.errors,
            skipped: self.skipped + o.skipped,
        }
    }
}

impl Testsuite {
    pub fn counts(&self) -> Counts {
        Counts::of(&self.cases)
    }
}

impl Testsuites {
    pub fn counts(&self) -> Counts {
        self.suites.iter().map(Testsuite::counts).fold(Counts::default(), Counts::add)
    }

    /// The document, UTF-8.
    pub fn to_xml(&self) -> String {
        let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let c = self.counts();
        let time: f64 = self.suites.iter().map(|t| seconds(t.time_s)).sum();
        let _ = writeln!(
            s,
            "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{time:.3}\">",
            attr(&self.name),
            c.tests,
            c.failures,
            c.errors,
            c.skipped
        );
        for (id, suite) in self.suites.iter().enumerate() {
            suite.write(&mut s, id);
        }
        s.push_str("</testsuites>\n");
        s
    }
}

impl Testsuite {
    fn write(&self, s: &mut String, id: usize) {
        let c = self.counts();
        let _ = write!(
            s,
            "  <testsuite name=\"{}\" id=\"{id}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\"",
            attr(&self.name),
            c.tests,
            c.failures,
            c.errors,
            c.skipped,
            seconds(self.time_s)
        );
        if let Some(t) = self.timestamp_unix_s.and_then(timestamp) {
            let _ = write!(s, " timestamp=\"{t}\"");
        }
        s.push_str(">\n");
        write_properties(s, &self.properties, "    ");
        for case in &self.cases {
            case.write(s);
        }
        s.push_str("  </testsuite>\n");
    }
}

impl Testcase {
    fn write(&self, s: &mut String) {
        let _ = write!(
            s,
            "    <testcase name=\"{}\" classname=\"{}\" time=\"{:.3}\"",
            attr(&self.name),
            attr(&self.classname),
            seconds(self.time_s)
        );
        if self.properties.is_empty() && self.outcome == Outcome::Passed && self.system_out.is_none() {
            s.push_str("/>\n");
            return;
        }
        s.push_str(">\n");
        write_properties(s, &self.properties, "      ");
        match &self.outcome {
            Outcome::Passed => {}
            Outcome::Failure { kind, message, text } => write_problem(s, "failure", kind, message, text),
            Outcome::Error { kind, message, text } => write_problem(s, "error", kind, message, text),
            Outcome::Skipped { message } => {
                let _ = writeln!(s, "      <skipped message=\"{}\"/>", attr(message));
            }
        }
        if let Some(out) = &self.system_out {
            let _ = writeln!(s, "      <system-out>{}</system-out>", text(out));
        }
        s.push_str("    </testcase>\n");
    }
}

fn write_problem(s: &mut String, element: &str, kind: &str, message: &str, body: &str) {
    let _ = writeln!(
        s,
        "      <{element} message=\"{}\" type=\"{}\">{}</{element}>",
        attr(message),
        attr(kind),
        text(body)
    );
}

fn write_properties(s: &mut String, props: &[Property], indent: &str) {
    if props.is_empty() {
        return;
    }
    let _ = writeln!(s, "{indent}<properties>");
    for p in props {
        let _ = writeln!(s, "{indent}  <property name=\"{}\" value=\"{}\"/>", attr(&p.name), attr(&p.value));
    }
    let _ = writeln!(s, "{indent}</properties>");
}

/// A time as JUnit has it: seconds, never negative or NaN.
fn seconds(t: f64) -> f64 {
    if t.is_finite() && t > 0.0 {
        t
    } else {
        0.0
    }
}

/// What XML 1.0 allows in a document: tab, newline, carriage return, and everything from
/// U+0020 up but the non-characters U+FFFE and U+FFFF (Rust strings hold no surrogates).
fn allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
}

/// Text content: the markup characters escaped, a forbidden character replaced by U+FFFD
/// (so that something visibly stands where it was).
pub fn text(s: &str) -> String {
    escape(s, false)
}

/// An attribute value in double quotes. Tabs and line breaks are written as character
/// references: a parser would otherwise turn them into spaces.
pub fn attr(s: &str) -> String {
    escape(s, true)
}

fn escape(s: &str, in_attr: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if in_attr => out.push_str("&quot;"),
            '\'' if in_attr => out.push_str("&apos;"),
            '\t' if in_attr => out.push_str("&#9;"),
            '\n' if in_attr => out.push_str("&#10;"),
            // A bare CR in text is read as a line end; kept as a reference it survives.
            '\r' => out.push_str("&#13;"),
            c if !allowed(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// `YYYY-MM-DDThh:mm:ss` in UTC; None for a time before 1970, after 9999, or not a number.
fn timestamp(unix_s: f64) -> Option<String> {
    if !(0.0..253_402_300_800.0).contains(&unix_s) {
        return None;
    }
    let secs = unix_s as u64;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    Some(format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60))
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// For tests of the tools that write JUnit: the schema in `junit/tests/junit.xsd`, and a
/// check of a file against it with `xmllint` (package libxml2-utils, which setup.sh installs).
pub mod schema {
    use super::*;

    pub fn xsd() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/junit.xsd")
    }

    /// Ok, or xmllint's complaint.
    pub fn validate(file: &Path) -> Result<(), String> {
        let out = std::process::Command::new("xmllint")
            .arg("--noout")
            .arg("--schema")
            .arg(xsd())
            .arg(file)
            .output()
            .map_err(|e| format!("xmllint (package libxml2-utils; scripts/setup.sh installs it): {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// A file's testcases as (name, outcome, message), after checking it against the schema:
    /// the outcome is "failure", "error", "skipped" or "passed", the message that element's
    /// `message` (empty when it passed).
    #[cfg(feature = "check")]
    pub fn cases(file: &Path) -> Vec<(String, &'static str, String)> {
        validate(file).unwrap_or_else(|e| panic!("{} is not valid JUnit: {e}", file.display()));
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let d = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        d.descendants()
            .filter(|n| n.has_tag_name("testcase"))
            .map(|c| {
                let name = c.attribute("name").unwrap_or_default().to_string();
                let found = ["failure", "error", "skipped"]
                    .into_iter()
                    .find_map(|tag| c.children().find(|e| e.has_tag_name(tag)).map(|e| (tag, e)));
                match found {
                    Some((tag, e)) => (name, tag, e.attribute("message").unwrap_or("").to_string()),
                    None => (name, "passed", String::new()),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(cases: Vec<Testcase>) -> Testsuites {
        Testsuites {
            name: "vflag".into(),
            suites: vec![Testsuite { name: "s".into(), time_s: 1.5, cases, ..Default::default() }],
        }
    }

    #[test]
    fn hostile_names_are_escaped_and_read_back_as_given() {
        let hostile = "a\"b'c<d>e&f]]>g\u{1}h\u{1b}[31m\ti\nj\rk\u{FFFF}l";
        let mut c = Testcase::new("cls\"<", hostile);
        c.properties.push(Property::new(hostile, hostile));
        c.fail(hostile, &[hostile.to_string(), "two".into()]);
        c.system_out = Some(hostile.into());
        let xml = doc(vec![c]).to_xml();
        let d = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
        // What the reader gets back: the forbidden characters replaced, the rest as given.
        let back = "a\"b'c<d>e&f]]>g\u{FFFD}h\u{FFFD}[31m\ti\nj\rk\u{FFFD}l";
        let case = d.descendants().find(|n| n.has_tag_name("testcase")).unwrap();
        assert_eq!(case.attribute("name"), Some(back));
        assert_eq!(case.attribute("classname"), Some("cls\"<"));
        let prop = case.descendants().find(|n| n.has_tag_name("property")).unwrap();
        assert_eq!((prop.attribute("name"), prop.attribute("value")), (Some(back), Some(back)));
        let failure = case.children().find(|n| n.has_tag_name("failure")).unwrap();
        assert_eq!(failure.attribute("message"), Some(format!("{back}; two").as_str()));
        assert_eq!(failure.attribute("type"), Some(back));
        assert_eq!(failure.text(), Some(format!("{back}\ntwo").as_str()));
        let out = case.children().find(|n| n.has_tag_name("system-out")).unwrap();
        assert_eq!(out.text(), Some(back));
        assert!(!xml.contains('\u{1}') && !xml.contains('\u{1b}'));
    }

    #[test]
    fn the_counts_are_the_testcases() {
        let mut failed = Testcase::new("c", "failed");
        failed.fail("limit", &["over".into()]);
        let skipped = Testcase { outcome: Outcome::Skipped { message: "cut short".into() }, ..Testcase::new("c", "s") };
        let erred = Testcase {
            outcome: Outcome::Error { kind: "interrupted".into(), message: "m".into(), text: String::new() },
            ..Testcase::new("c", "e")
        };
        let mut d = doc(vec![Testcase::new("c", "ok"), failed.clone(), skipped, erred, failed]);
        d.suites.push(Testsuite { name: "empty".into(), ..Default::default() });
        assert_eq!(d.counts(), Counts { tests: 5, failures: 2, errors: 1, skipped: 1 });
        let xml = d.to_xml();
        let x = roxmltree::Document::parse(&xml).unwrap();
        let root = x.root_element();
        let n = |node: roxmltree::Node, a: &str| node.attribute(a).unwrap().to_string();
        assert_eq!(
            ["tests", "failures", "errors", "skipped"].map(|a| n(root, a)),
            ["5", "2", "1", "1"].map(String::from)
        );
        let suites: Vec<_> = root.children().filter(|c| c.has_tag_name("testsuite")).collect();
        assert_eq!(suites.len(), 2);
        for s in &suites {
            let cases: Vec<_> = s.children().filter(|c| c.has_tag_name("testcase")).collect();
            let has = |tag: &str| cases.iter().filter(|c| c.children().any(|e| e.has_tag_name(tag))).count();
            assert_eq!(n(*s, "tests"), cases.len().to_string());
            assert_eq!(n(*s, "failures"), has("failure").to_string());
            assert_eq!(n(*s, "errors"), has("error").to_string());
            assert_eq!(n(*s, "skipped"), has("skipped").to_string());
        }
        assert_eq!(n(suites[0], "time"), "1.500");
    }

    #[test]
    fn a_long_failure_keeps_its_message_short_and_every_line_in_its_text() {
        let lines: Vec<String> = (1..=5).map(|i| format!("outage {i}")).collect();
        let mut c = Testcase::new("c", "t");
        c.fail("k", &lines);
        assert_eq!(
            c.outcome,
            Outcome::Failure {
                kind: "k".into(),
                message: "outage 1; outage 2; outage 3; and 2 more".into(),
                text: lines.join("\n")
            }
        );
    }

    #[test]
    fn times_and_timestamps() {
        assert_eq!(timestamp(0.0).as_deref(), Some("1970-01-01T00:00:00"));
        assert_eq!(timestamp(1_709_210_096.7).as_deref(), Some("2024-02-29T12:34:56"));
        assert_eq!(timestamp(951_782_400.0).as_deref(), Some("2000-02-29T00:00:00"));
        assert_eq!(timestamp(-1.0), None);
        assert_eq!(timestamp(f64::NAN), None);
        assert_eq!(seconds(f64::NAN), 0.0);
        assert_eq!(seconds(-2.0), 0.0);
        let mut d = doc(vec![Testcase { time_s: f64::INFINITY, ..Testcase::new("c", "t") }]);
        d.suites[0].timestamp_unix_s = Some(1_709_210_096.0);
        let xml = d.to_xml();
        assert!(xml.contains("timestamp=\"2024-02-29T12:34:56\""), "{xml}");
        assert!(xml.contains("<testcase name=\"t\" classname=\"c\" time=\"0.000\"/>"), "{xml}");
    }
}
