//! `lab up --vf` for real, with names of its own (`lv…`): frames from the VF in 16 flows split
//! over both switch ends; a flap run by `lab flap --vf` (the LAG model running) moves all of
//! them to the live link, `mapping` reads the live port and kern.log has the remap line; both
//! carry again after it; frames sent into the switch ends arrive at the VF. Removed on drop.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_vflag-ctl");

struct Names {
    args: Vec<String>,
    ns: String,
    host: [String; 2],
    switch: [String; 2],
    vf: String,
}

fn names() -> Names {
    let id = std::process::id() % 10_000;
    let (ns, host, switch, vf, rep) = (
        format!("lvn{id}"),
        [format!("lvh0{id}"), format!("lvh1{id}")],
        [format!("lvs0{id}"), format!("lvs1{id}")],
        format!("lvvf{id}"),
        format!("lvvr{id}"),
    );
    let args = vec![
        "--ns".into(),
        ns.clone(),
        "--host-links".into(),
        host.join(","),
        "--switch-links".into(),
        switch.join(","),
        "--vf".into(),
        "--vf-names".into(),
        format!("{vf},{rep}"),
        "--block".into(),
        (3000 + id).to_string(),
    ];
    Names { args, ns, host, switch, vf }
}

fn ctl(n: &Names, args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN).args(args).args(&n.args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
    )
}

struct Cleanup<'a>(&'a Names, Vec<Child>);
impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        for c in &mut self.1 {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = ctl(self.0, &["lab", "down"]);
        // DPDK's runtime directories of the generators, and the lab's lock file.
        for p in ["lvg", "lvi"] {
            let _ = std::fs::remove_dir_all(format!("/var/run/dpdk/{p}{}", std::process::id()));
        }
        let _ = std::fs::remove_file(format!("/run/vflag/lab-{}.lock", self.0.ns));
    }
}

fn counter(ns: Option<&str>, dev: &str, what: &str) -> u64 {
    let path = format!("/sys/class/net/{dev}/statistics/{what}");
    let text = match ns {
        Some(ns) => String::from_utf8_lossy(
            &Command::new("ip").args(["netns", "exec", ns, "cat", &path]).output().unwrap().stdout,
        )
        .into_owned(),
        None => std::fs::read_to_string(&path).unwrap_or_default(),
    };
    text.trim().parse().unwrap_or(0)
}

/// The switch ends' rx over `ms`.
fn split(n: &Names, ms: u64) -> [u64; 2] {
    let a = [counter(Some(&n.ns), &n.switch[0], "rx_packets"), counter(Some(&n.ns), &n.switch[1], "rx_packets")];
    std::thread::sleep(Duration::from_millis(ms));
    let b = [counter(Some(&n.ns), &n.switch[0], "rx_packets"), counter(Some(&n.ns), &n.switch[1], "rx_packets")];
    [b[0] - a[0], b[1] - a[1]]
}

fn gen(ns: Option<&str>, ifaces: &[&str], prefix: &str, secs: u32) -> Child {
    let dp = Path::new(BIN).with_file_name("vflag-dp");
    assert!(dp.is_file(), "{} missing: build the workspace", dp.display());
    let mut c = match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns]).arg(&dp);
            c
        }
        None => Command::new(&dp),
    };
    c.args(["--lcores", "1,0", "--no-huge", "-m", "256", "--mbufs", "8192", "--stats-interval", "0"])
        .args(["--file-prefix", &format!("{prefix}{}", std::process::id())]);
    for (i, f) in ifaces.iter().enumerate() {
        c.args(["--vdev", &format!("net_af_packet{i},iface={f}")]);
    }
    if ifaces.len() > 1 {
        c.args(["--bond", "xor"]);
    }
    c.args(["--fwd", "gen", "--flows", "16", "--rate", "20000", "--duration", &secs.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn lab_up_vf_hashes_egress_remaps_on_a_flap_and_redirects_ingress() {
    let n = names();
    let mut guard = Cleanup(&n, Vec::new());
    let (code, out) = ctl(&n, &["lab", "up"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = ctl(&n, &["lab", "up"]);
    assert!(code == 0 && out.contains("lab already up"), "a second up changes nothing: {out}");
    let run = Path::new("/run/vflag").join(format!("lab-{}", n.ns));
    let mapping = run.join("debug/mlx5/0000:01:00.0/lag/mapping");
    assert_eq!(std::fs::read_to_string(&mapping).unwrap(), "1\n2\n");

    // Egress: the VF's 16 flows over both links.
    guard.1.push(gen(None, &[&n.vf], "lvg", 12));
    std::thread::sleep(Duration::from_millis(2000));
    let before = split(&n, 1000);
    let total = before[0] + before[1];
    assert!(total > 10_000, "the VF's frames reach the switch: {before:?}");
    for s in before {
        assert!(s * 100 / total >= 15, "both links carry a share: {before:?}");
    }
    // A 2 s flap of link 0 with the model running.
    let flap = std::thread::spawn({
        let args = n.args.clone();
        move || Command::new(BIN).args(["lab", "flap", "--link", "0", "--down-ms", "2000"]).args(args).output().unwrap()
    });
    std::thread::sleep(Duration::from_millis(400));
    let during = split(&n, 1000);
    assert_eq!(std::fs::read_to_string(&mapping).unwrap(), "2\n", "only port 2 is tx-enabled");
    assert!(during[1] * 100 >= total * 90, "all egress on link 1: {during:?} of {total}");
    let dropped = counter(None, &n.host[0], "tx_dropped");
    let flapped = flap.join().unwrap();
    let fo = String::from_utf8_lossy(&flapped.stdout).into_owned();
    assert!(flapped.status.success(), "{fo}{}", String::from_utf8_lossy(&flapped.stderr));
    eprintln!("{fo}");
    let ms: Vec<f64> =
        fo.lines().filter_map(|l| l.split(" in place ").nth(1)?.split(" ms").next()?.parse().ok()).collect();
    assert_eq!(ms.len(), 2, "a remap down and one up: {fo}");
    assert!(ms.iter().all(|m| *m < 200.0), "remapped within 200 ms: {fo}");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(std::fs::read_to_string(&mapping).unwrap(), "1\n2\n");
    let after = split(&n, 1000);
    eprintln!("egress before {before:?} during {during:?} after {after:?}; link 0 tx_dropped {dropped}");
    for s in after {
        assert!(s * 100 / (after[0] + after[1]) >= 15, "both links carry again: {after:?}");
    }
    let log = std::fs::read_to_string(run.join("kern.log")).unwrap();
    assert!(log.contains(&format!("mlx5_core 0000:01:00.0 {}: Link down\n", n.host[0])), "{log}");
    assert!(log.contains("mlx5_core 0000:01:00.0: lag map active ports: 2\n"), "{log}");
    assert!(log.trim_end().ends_with("lag map active ports: 1, 2"), "{log}");
    for mut c in guard.1.drain(..) {
        let _ = c.kill();
        let _ = c.wait();
    }

    // Ingress: frames into both switch ends arrive at the VF.
    let vf0 = counter(None, &n.vf, "rx_packets");
    let h = [counter(None, &n.host[0], "rx_packets"), counter(None, &n.host[1], "rx_packets")];
    guard.1.push(gen(Some(&n.ns), &[&n.switch[0], &n.switch[1]], "lvi", 3));
    let _ = guard.1[0].wait();
    let got = counter(None, &n.vf, "rx_packets") - vf0;
    let hd = [counter(None, &n.host[0], "rx_packets") - h[0], counter(None, &n.host[1], "rx_packets") - h[1]];
    eprintln!("ingress: host ends {hd:?}, VF {got}");
    assert!(hd[0] > 1000 && hd[1] > 1000, "both links took frames in: {hd:?}");
    assert!(got >= (hd[0] + hd[1]) * 95 / 100, "they arrive at the VF: {got} of {hd:?}");

    drop(guard);
    let links =
        String::from_utf8_lossy(&Command::new("ip").args(["-o", "link", "show"]).output().unwrap().stdout).into_owned();
    assert!(!links.contains(&n.vf) && !links.contains(&n.host[0]), "nothing left: {links}");
    assert!(!run.exists(), "the run directory is gone");
}
