//! The names a user gives that reach a command line or a file name: interfaces and namespaces
//! (`ip`, sysfs paths, lock files) and the switch-side link names of the flap commands. Checked
//! once, when the options are read, so nothing later can be steered by a name.

/// An interface or namespace name as the kernel takes it: 1-15 bytes of `[A-Za-z0-9._-]`, not
/// starting with '-' (it would read as an option), and not `.` or `..` (paths under sysfs and
/// /run/netns).
pub fn ifname(s: &str) -> Result<String, String> {
    let ok = (1..=15).contains(&s.len())
        && !s.starts_with('-')
        && s != "."
        && s != ".."
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!("'{s}' is not an interface name (1-15 of A-Z a-z 0-9 . _ -, not starting with '-')"))
    }
}

/// A link's name for `{link}` in the flap commands: an interface here or a port on a switch
/// (`Ethernet1/49`, `swp1s0`, `ge-0/0/1:2`, `Eth1/1@lag`). 1-64 of `[A-Za-z0-9._:/@+-]`,
/// starting with a letter or digit, no `..`: nothing a shell or a path would read as more than
/// a name.
pub fn switch_port(s: &str) -> Result<String, String> {
    let ok = (1..=64).contains(&s.len())
        && s.as_bytes()[0].is_ascii_alphanumeric()
        && !s.contains("..")
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:/@+-".contains(&b));
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!("'{s}' is not a link name (1-64 of A-Z a-z 0-9 . _ : / @ + -, starting with a letter or digit)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn real_names_pass_and_hostile_ones_are_named() {
        for ok in ["enp1s0f0np0", "vf-bond", "p0", "sw", "enp1s0f0npf0vf0", "bond0.100"] {
            assert_eq!(ifname(ok).as_deref(), Ok(ok));
        }
        for bad in ["", "x;touch /tmp/p1", "$(touch /tmp/p2)", "a b", "../etc", "..", "-n", "sixteen-chars-xx", "a/b"] {
            let e = ifname(bad).unwrap_err();
            assert!(e.starts_with(&format!("'{bad}' is not an interface name")), "{e}");
        }
        for ok in ["Ethernet1/49", "swp1s0", "ge-0/0/1:2", "Eth1/1@lag", "enp1s0f0np0"] {
            assert_eq!(switch_port(ok).as_deref(), Ok(ok));
        }
        for bad in ["x;touch /tmp/p1", "$(touch /tmp/p2)", "a b", "`id`", "a|b", "-x", "/etc", "a/../b", "a'b", "a\nb"]
        {
            assert!(switch_port(bad).unwrap_err().contains("is not a link name"), "{bad}");
        }
    }

    proptest! {
        /// Whatever passes holds no byte a shell treats specially.
        #[test]
        fn nothing_that_passes_can_reach_a_shell(s in "\\PC{0,70}") {
            for name in [ifname(&s), switch_port(&s)].into_iter().flatten() {
                prop_assert!(!name.bytes().any(|b| b" \t\n;&|$`'\"\\<>(){}[]*?!~#=%,".contains(&b)), "{name}");
                prop_assert!(!name.starts_with('-'));
            }
        }
    }
}
