//! The lab for real, with names of its own so it never touches a lab in use: up (twice: the
//! second changes nothing), status, a flap, down, and nothing left behind.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_vflag-ctl");

fn names() -> Vec<String> {
    let id = std::process::id() % 100_000;
    vec![
        "--ns".into(),
        format!("vflt{id}"),
        "--host-links".into(),
        format!("vh0_{id},vh1_{id}"),
        "--switch-links".into(),
        format!("vs0_{id},vs1_{id}"),
    ]
}

fn ctl(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).args(names()).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// Removes the lab whatever happens in the test.
struct Cleanup;
impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = ctl(&["lab", "down"]);
    }
}

fn status() -> serde_json::Value {
    let (code, out, err) = ctl(&["lab", "status", "--json"]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn lab_up_flap_down() {
    let _c = Cleanup;
    let ns = names()[1].clone();
    let (code, out, err) = ctl(&["lab", "up"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("lab up"), "{out}");
    let st = status();
    assert_eq!(st["ns_exists"], true);
    for l in st["links"].as_array().unwrap() {
        assert_eq!(
            (l["ours"].as_bool(), l["host_up"].as_bool(), l["switch_up"].as_bool()),
            (Some(true), Some(true), Some(true))
        );
    }
    // The namespace really holds the switch ends.
    let inside = Command::new("ip").args(["-n", &ns, "-o", "link", "show"]).output().unwrap();
    assert!(String::from_utf8_lossy(&inside.stdout).contains(&names()[5].split(',').next().unwrap().to_string()));

    let (code, out, _) = ctl(&["lab", "up"]);
    assert_eq!(code, 0);
    assert!(out.contains("lab already up"), "second up changes nothing: {out}");

    let (code, out, err) = ctl(&["lab", "flap", "--link", "1", "--down-ms", "200"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("was down for"), "{out}");
    assert!(status()["links"][1]["switch_up"].as_bool().unwrap(), "the link is back up");

    let (code, out, err) = ctl(&["lab", "flap", "--link", "5"]);
    assert_eq!(code, 2, "a bad option: {out}");
    assert!(err.contains("--link 5"), "{err}");

    let (code, out, err) = ctl(&["lab", "down"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("lab down"), "{out}");
    let st = status();
    assert_eq!(st["ns_exists"], false);
    assert!(st["links"].as_array().unwrap().iter().all(|l| l["host_exists"] == false));
    let (_, out, _) = ctl(&["lab", "down"]);
    assert!(out.contains("nothing of the lab was there"), "{out}");
}

#[test]
fn refuses_an_interface_that_is_not_the_labs() {
    let id = std::process::id() % 100_000;
    let foreign = format!("vfx{id}");
    let ok = Command::new("ip").args(["link", "add", &foreign, "type", "dummy"]).status().unwrap().success()
        || Command::new("ip")
            .args(["link", "add", &foreign, "type", "veth", "peer", "name", &format!("vfy{id}")])
            .status()
            .unwrap()
            .success();
    assert!(ok, "could not create a test interface");
    let out = Command::new(BIN)
        .args([
            "lab",
            "up",
            "--ns",
            &format!("vfln{id}"),
            "--host-links",
            &foreign,
            "--switch-links",
            &format!("vfs{id}"),
        ])
        .output()
        .unwrap();
    let _ = Command::new("ip").args(["link", "del", &foreign]).status();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(&format!("interface {foreign} exists and is not the lab's")), "{err}");
    // Nothing was created.
    let ns = Command::new("ip").args(["netns", "list"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&ns.stdout).contains(&format!("vfln{id}")));
}

#[test]
fn bad_names_are_usage_errors() {
    let out = Command::new(BIN).args(["lab", "status", "--host-links", "a,b", "--switch-links", "c"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("same number of links"));
    let out = Command::new(BIN).args(["lab", "bogus"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
}

#[test]
fn changes_need_root() {
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN, "lab", "up", "--ns", "vflnobody"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lab up needs root"));
}
