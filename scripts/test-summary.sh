# Sourced by the scripts that run cargo test: `test_summary LABEL LOG` prints
# "LABEL: N passed, N failed", summed over every test binary's `test result:` line in LOG.
test_summary() {
    awk -v label="$1" '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
         END { printf "%s: %d passed, %d failed\n", label, p, f }' "$2"
}
