//! Text that goes into the soak's Markdown tables.

/// A name as Markdown text: a `|` would end the table cell, and `<`, `*`, `` ` ``, `[` would
/// turn into markup or HTML where the table is rendered.
pub fn md(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            '|' | '\\' | '*' | '`' | '[' | ']' | '<' | '>' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}
