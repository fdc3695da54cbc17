# shellcheck shell=bash
# Sourced by dpdk-from-source.sh: `deb_src_entries APT_DIR CODENAME SUITE...` prints deb822
# deb-src stanzas for the SUITEs (component main), one for each enabled `deb` entry of the apt
# configuration under APT_DIR that serves the machine's own release CODENAME, with that entry's
# URIs and Signed-By: source packages then come from the archive, and under the key, that the
# machine already trusts for its binary packages. It reads what apt reads: sources.list and
# sources.list.d/*.list in the one-line form, sources.list.d/*.sources in deb822. Prints nothing
# when no entry serves CODENAME.
deb_src_entries() {
    local dir=$1 codename=$2
    shift 2
    [ -n "$codename" ] || return 0
    local files=() f
    for f in "$dir/sources.list" "$dir"/sources.list.d/*.list "$dir"/sources.list.d/*.sources; do
        [ -f "$f" ] && files+=("$f")
    done
    [ ${#files[@]} -gt 0 ] || return 0
    awk -v codename="$codename" -v want="$*" '
        function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
        function has(list, word) { return (" " list " ") ~ (" " word " ") }
        function emit(uris, signed,   k) {
            k = uris SUBSEP signed
            if (k in seen) return
            seen[k] = 1
            printf "%sTypes: deb-src\nURIs: %s\nSuites: %s\nComponents: main\n", (n++ ? "\n" : ""), uris, want
            # A key path or fingerprints on the line; an inline key starts on the next line.
            if (signed ~ /^\n/) printf "Signed-By:%s\n", signed
            else if (signed != "") printf "Signed-By: %s\n", signed
        }
        # deb822: one stanza per paragraph; keys are case-insensitive, values may continue on
        # lines that start with white space (an inline Signed-By key keeps them verbatim).
        function flush() {
            if (has(f["types"], "deb") && tolower(f["enabled"]) != "no" && has(f["suites"], codename))
                emit(f["uris"], f["signed-by"])
            delete f
            key = ""
        }
        FNR == 1 { if (deb822) flush(); deb822 = FILENAME ~ /\.sources$/ }
        deb822 && /^#/ { next }
        deb822 && /^[ \t]*$/ { flush(); next }
        deb822 && /^[ \t]/ {
            if (key == "signed-by") f[key] = f[key] "\n" $0
            else if (key != "") f[key] = trim(f[key] " " trim($0))
            next
        }
        deb822 {
            key = tolower(trim(substr($0, 1, index($0, ":") - 1)))
            f[key] = trim(substr($0, index($0, ":") + 1))
            gsub(/[ \t]+/, " ", f[key])
            next
        }
        # One-line form: deb [option=value ...] URI SUITE COMPONENT...
        {
            sub(/#.*/, "")
            if ($1 != "deb") next
            i = 2
            signed = ""
            if ($2 ~ /^\[/) {
                for (; i <= NF; i++) {
                    o = $i
                    gsub(/[][]/, "", o)
                    if (tolower(o) ~ /^signed-by=/) signed = substr(o, 11)
                    if ($i ~ /\]$/) { i++; break }
                }
            }
            if ($(i + 1) == codename) emit($i, signed)
        }
        END { if (deb822) flush() }
    ' "${files[@]}"
}
