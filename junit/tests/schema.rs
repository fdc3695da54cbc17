//! The writer's documents against the schema Jenkins and GitLab read (`junit.xsd`, checked
//! with xmllint), and the schema against documents it must refuse, so that a pass means something.

use junit::{schema, Outcome, Property, Testcase, Testsuite, Testsuites};

fn write(dir: &std::path::Path, name: &str, xml: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, xml).unwrap();
    p
}

#[test]
fn every_outcome_with_hostile_text_is_valid() {
    let hostile = "flap \"1\" <s0> & 'x'\u{0}\u{7}\u{1b}\r\n\tend";
    let mut failed = Testcase::new("vflag.soak", hostile);
    failed.properties = vec![Property::new("outage_ms", 512.3), Property::new(hostile, hostile)];
    failed.fail("--max-outage-ms", &[hostile.into(), "flap 1: outage 512.3 ms > --max-outage-ms 400".into()]);
    failed.system_out = Some(hostile.into());
    let cases = vec![
        Testcase::new("vflag.soak", "passed"),
        failed,
        Testcase { outcome: Outcome::Skipped { message: hostile.into() }, ..Testcase::new("vflag.soak", "cut") },
        Testcase {
            outcome: Outcome::Error { kind: "interrupted".into(), message: hostile.into(), text: hostile.into() },
            time_s: 2.25,
            ..Testcase::new("vflag.soak", "complete")
        },
    ];
    let doc = Testsuites {
        name: hostile.into(),
        suites: vec![
            Testsuite {
                name: hostile.into(),
                timestamp_unix_s: Some(1_700_000_000.0),
                time_s: 12.5,
                properties: vec![Property::new("bond", "lacp")],
                cases,
            },
            Testsuite { name: "empty".into(), ..Default::default() },
        ],
    };
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "ok.xml", &doc.to_xml());
    schema::validate(&f).unwrap_or_else(|e| panic!("{e}\n{}", doc.to_xml()));
}

#[test]
fn the_schema_refuses_what_the_readers_would() {
    let dir = tempfile::tempdir().unwrap();
    let ok = r#"<testsuites><testsuite name="s" tests="1"><testcase name="t"/></testsuite></testsuites>"#;
    schema::validate(&write(dir.path(), "min.xml", ok)).unwrap();
    for (name, bad) in [
        ("no-case-name", r#"<testsuites><testsuite name="s" tests="1"><testcase/></testsuite></testsuites>"#),
        ("no-tests", r#"<testsuites><testsuite name="s"><testcase name="t"/></testsuite></testsuites>"#),
        ("negative-time", r#"<testsuite name="s" tests="1"><testcase name="t" time="-1"/></testsuite>"#),
        (
            "properties-after-failure",
            r#"<testsuite name="s" tests="1"><testcase name="t"><failure/><properties/></testcase></testsuite>"#,
        ),
        ("unknown-element", r#"<testsuite name="s" tests="1"><testcase name="t"><oops/></testcase></testsuite>"#),
        ("zoned-timestamp", r#"<testsuite name="s" tests="0" timestamp="2024-01-01T00:00:00Z"/>"#),
    ] {
        let e = schema::validate(&write(dir.path(), &format!("{name}.xml"), bad));
        assert!(e.is_err(), "{name} passed the schema");
    }
}
