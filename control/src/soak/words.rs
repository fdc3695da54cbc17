//! Command lines the user gives as one string (`--dut-args`, `--flap-down-cmd`): split into
//! words as a POSIX shell would, never run by one. A `{link}` is replaced inside the words, so
//! a link's name is always one argv element, whatever it holds.

use anyhow::{bail, Result};

/// Shell-like words of `text`; an unbalanced quote is named with its position.
pub fn split(opt: &str, text: &str) -> Result<Vec<String>> {
    if let Some((quote, at)) = unbalanced_quote(text) {
        bail!("{opt} '{text}': the {quote} at character {} is never closed", at + 1);
    }
    match shlex::split(text) {
        Some(w) => Ok(w),
        None => bail!("{opt} '{text}': cannot be split into words (a trailing backslash?)"),
    }
}

/// The value of the first of `names` in `words`, spelled `--opt VALUE` or `--opt=VALUE` (a
/// short `-a VALUE` too): what a vflag-dp argument list sets, read as its parser would.
pub fn value_of(words: &[String], names: &[&str]) -> Option<String> {
    words.iter().enumerate().find_map(|(i, w)| {
        names.iter().find_map(|n| match w.strip_prefix(n) {
            Some("") => words.get(i + 1).cloned(),
            Some(v) => v.strip_prefix('=').map(str::to_string),
            None => None,
        })
    })
}

/// The opening quote left open, and its character index.
fn unbalanced_quote(text: &str) -> Option<(char, usize)> {
    let mut open: Option<(char, usize)> = None;
    let mut escaped = false;
    for (i, c) in text.chars().enumerate() {
        match open {
            Some(('\'', _)) if c == '\'' => open = None,
            Some(('\'', _)) => {}
            _ if escaped => escaped = false,
            _ if c == '\\' => escaped = true,
            Some(('"', _)) if c == '"' => open = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => open = Some((c, i)),
            None => {}
        }
    }
    open
}

/// A flap command: words with `{link}` in at least one of them.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    words: Vec<String>,
}

impl Template {
    pub fn parse(opt: &str, text: &str) -> Result<Template> {
        let words = split(opt, text)?;
        if words.is_empty() {
            bail!("{opt} '{text}': empty command");
        }
        if !words.iter().any(|w| w.contains("{link}")) {
            bail!("{opt} '{text}': it must contain {{link}}, replaced by each link's name");
        }
        Ok(Template { words })
    }

    /// The argv with `{link}` replaced by `link` in every word.
    pub fn argv(&self, link: &str) -> Vec<String> {
        self.words.iter().map(|w| w.replace("{link}", link)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hostile_link_name_stays_one_word() {
        let t = Template::parse("--flap-down-cmd", "echo DOWN {link}").unwrap();
        let hostile = "x;touch /tmp/p1,$(touch /tmp/p2)";
        assert_eq!(t.argv(hostile), vec!["echo", "DOWN", hostile]);
        let t = Template::parse("--flap-up-cmd", "ssh switch 'interface {link}; no shutdown'").unwrap();
        assert_eq!(t.argv("Ethernet1/49"), vec!["ssh", "switch", "interface Ethernet1/49; no shutdown"]);
        let t = Template::parse("--flap-up-cmd", "ip link set dev=\"{link}\" up").unwrap();
        assert_eq!(t.argv("enp1s0f0np0"), vec!["ip", "link", "set", "dev=enp1s0f0np0", "up"]);
    }

    #[test]
    fn a_value_is_read_in_both_spellings() {
        let w: Vec<String> =
            ["-a", "0000:01:00.2", "--mac=52:54:00:00:00:01", "--gap-ms", "25"].iter().map(|s| s.to_string()).collect();
        assert_eq!(value_of(&w, &["--mac"]).as_deref(), Some("52:54:00:00:00:01"));
        assert_eq!(value_of(&w, &["--gap-ms"]).as_deref(), Some("25"));
        assert_eq!(value_of(&w, &["-a", "--allow"]).as_deref(), Some("0000:01:00.2"));
        assert_eq!(value_of(&w, &["--macs"]), None, "a longer name is another option");
        assert_eq!(value_of(&w[..4], &["--gap-ms"]), None, "a missing value");
    }

    #[test]
    fn bad_templates_are_named() {
        let e = Template::parse("--flap-down-cmd", "ip link set down").unwrap_err().to_string();
        assert_eq!(e, "--flap-down-cmd 'ip link set down': it must contain {link}, replaced by each link's name");
        let e = Template::parse("--flap-down-cmd", "ssh sw 'shutdown {link}").unwrap_err().to_string();
        assert_eq!(e, "--flap-down-cmd 'ssh sw 'shutdown {link}': the ' at character 8 is never closed");
        let e = split("--dut-args", "-a 0000:01:00.2 --mac \"52:54").unwrap_err().to_string();
        assert_eq!(e, "--dut-args '-a 0000:01:00.2 --mac \"52:54': the \" at character 23 is never closed");
        assert!(split("--dut-args", "a 'it\"s' \"x\\\"y\"").is_ok(), "quotes inside the other kind and escapes");
        assert_eq!(split("--dut-args", "a 'b c' \"d\\\"e\"").unwrap(), vec!["a", "b c", "d\"e"]);
    }
}
