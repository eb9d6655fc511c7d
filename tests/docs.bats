#!/usr/bin/env bats
# The documentation against the code: the config keys the parser accepts and
# the ones README.md, libstaple(7) and config/libstaple.conf document are the
# same; the defaults and ranges they give are the code's; the LIBSTAPLE_*
# variables the library reads are the documented ones; and the numbers the
# README gives for the vetting budget are the code's. What the code says is
# read from preload/config.c and preload/store.c, and the keys it accepts are
# also checked against the library itself.

load lib/common

setup() {
    T=$BATS_TEST_TMPDIR
    CONFIG_C=$TOP/preload/config.c
    README=$TOP/README.md
    MAN=$TOP/man/libstaple.7
    CONF=$TOP/config/libstaple.conf
}

# code_numbers: "KEY MIN MAX" for each number key of the parser's table.
code_numbers() {
    sed -n 's/^[[:space:]]*{ "\([a-z_]*\)", &staple_conf\.[a-z_]*, \([^,]*\), \([^,]*\), [01] },.*/\1 \2 \3/p' \
        "$CONFIG_C" | sed 's/\([0-9]\)L\b/\1/g; s/ \* /*/g'
}

# code_keys: every key the parser accepts outside [host] sections.
code_keys() {
    {
        code_numbers | cut -d' ' -f1
        sed -n '/path_keys\[\] *=/,/;/p' "$CONFIG_C" | grep -o '"[a-z_]*"' | tr -d '"'
        grep -o 'strcmp(key, "[a-z_]*")' "$CONFIG_C" | sed 's/.*"\(.*\)".*/\1/'
    } | sort -u
}

# code_default KEY: the default staple_conf_load sets for a number key.
code_default() {
    sed -n "s/^[[:space:]]*staple_conf\.$1 = \([0-9][0-9 *L]*\);.*/\1/p" "$CONFIG_C" |
        sed 's/L//g; s/ //g'
}

# readme_rows: the README's configuration table, "VARIABLE|KEY|DEFAULT|MEANING" (an
# empty field where the row has none; backquotes removed).
readme_rows() {
    sed -n '/^| variable | config key | default |/,/^$/p' "$README" | sed '1,2d; /^$/d' |
        awk -F' *\\| *' '{ print $2 "|" $3 "|" $4 "|" $5 }' | tr -d '`'
}

# man_config: the CONFIGURATION section of libstaple(7).
man_config() {
    sed -n '/^\.SH CONFIGURATION/,/^\.SH /p' "$MAN"
}

# man_keys: the keys and variables libstaple(7) gives a .TP entry.
man_keys() {
    man_config | awk '/^\.TP/ { getline; print }' |
        sed 's/^\.BR* //; s/"//g; s/, */ /g' | tr ' ' '\n' | grep -v '^$'
}

# conf_keys: the keys config/libstaple.conf shows as "#KEY = VALUE" lines.
conf_keys() {
    sed -n 's/^#\([a-z_]*\) = .*/\1/p' "$CONF" | sort -u
}

# conf_value KEY: the value config/libstaple.conf shows first for KEY.
conf_value() {
    sed -n "s/^#$1 = //p" "$CONF" | head -n 1
}

# seconds VALUE: a documented duration ("7d", "10 minutes", "5 s", "600",
# "365 days", "7*86400") in seconds; nothing if it is not one.
seconds() {
    local v=${1//\`/}
    v=${v% } v=${v# }
    if [[ $v =~ ^([0-9*]+)\ *(s|seconds?)?$ ]]; then
        echo $((BASH_REMATCH[1]))
    elif [[ $v =~ ^([0-9]+)\ *(m|min|minutes?)$ ]]; then
        echo $((BASH_REMATCH[1] * 60))
    elif [[ $v =~ ^([0-9]+)\ *(h|hours?)$ ]]; then
        echo $((BASH_REMATCH[1] * 3600))
    elif [[ $v =~ ^([0-9]+)\ *(d|days?)$ ]]; then
        echo $((BASH_REMATCH[1] * 86400))
    fi
}

# differ WHAT DOCUMENTED CODE: record a mismatch unless both are equal.
differ() {
    [[ $2 == "$3" ]] || FAILURES+=("$1: the documentation says '$2', the code '$3'")
}

report() {
    printf '%s\n' "${FAILURES[@]}" >&2
    [ "${#FAILURES[@]}" -eq 0 ]
}

@test "the code's config keys are found (the extraction below still works)" {
    run code_keys
    echo "$output"
    # the number keys, the path keys (ca_file too) and the special ones
    [ "$(code_numbers | wc -l)" -ge 5 ]
    for key in reload_interval dir ca_file policy enabled log_level; do
        grep -qx "$key" <<<"$output"
    done
    [ "$(readme_rows | wc -l)" -ge 10 ]
    [ "$(man_keys | wc -l)" -ge 10 ]
}

@test "every key the parser accepts is documented in the README, libstaple(7) and the example config" {
    local key FAILURES=()
    for key in $(code_keys); do
        # ca_file, the older name of issuers, is named in issuers' entries
        readme_rows | cut -d'|' -f2 | grep -qx "$key" ||
            { [[ $key == ca_file ]] && readme_rows | grep -q '^|issuers|.*ca_file is its older name'; } ||
            FAILURES+=("README's table lacks $key")
        man_keys | grep -qx "$key" ||
            { [[ $key == ca_file ]] && man_config | grep -qx '\.B ca_file'; } ||
            FAILURES+=("libstaple(7) lacks $key")
        conf_keys | grep -qx "$key" || grep -q "\"$key\" is the older name" "$CONF" ||
            FAILURES+=("config/libstaple.conf lacks $key")
    done
    report
}

@test "every documented key is accepted by the parser, and by the library" {
    local key FAILURES=() documented
    documented=$({
        readme_rows | cut -d'|' -f2
        man_keys | grep -v '^LIBSTAPLE_'
        conf_keys
    } | grep -v '^$' | sort -u)
    for key in $documented; do
        code_keys | grep -qx "$key" || FAILURES+=("documented, not in config.c: $key")
    done
    # the library itself: each documented key once (bad values are fine, an
    # unknown key is not), and a made-up key, which must be reported
    for key in $documented made_up_key; do
        echo "$key = 1"
    done >"$T/conf"
    LIBSTAPLE_CONF=$T/conf LIBSTAPLE_LOG=$T/log LD_PRELOAD="$PRELOAD" \
        openssl s_client -connect 127.0.0.1:1 </dev/null >/dev/null 2>&1 || true
    run grep -o "unknown key '[a-z_]*'" "$T/log"
    [ "$output" = "unknown key 'made_up_key'" ] ||
        FAILURES+=("the library's complaints about unknown keys: '$output'")
    report
}

@test "every documented default and range is the code's" {
    local key min max def row FAILURES=() n=0
    while read -r key min max; do
        def=$(code_default "$key")
        [[ -n $def ]] || { FAILURES+=("no default for $key in config.c"); continue; }
        def=$((def)) min=$((min)) max=$((max))
        # README: the table's default, and "(1-300)" when it gives a range
        row=$(readme_rows | awk -F'|' -v k="$key" '$2 == k')
        differ "README $key default" "$(seconds "$(cut -d'|' -f3 <<<"$row")")" "$def"
        if [[ $row =~ \(([0-9]+)-([0-9]+)\) ]]; then
            differ "README $key range" "${BASH_REMATCH[1]}-${BASH_REMATCH[2]}" "$min-$max"
        fi
        # libstaple(7): "default N" in the key's entry, "A to B" when given
        row=$(man_config | awk -v k="$key" '/^\.TP/ { on = 0 } on { print } $0 == ".B " k { on = 1 }' | tr '\n' ' ')
        if [[ $row =~ default\ ([0-9]+[smhd]?)\) || $row =~ default\ ([0-9]+[smhd]?)\. ]]; then
            differ "libstaple(7) $key default" "$(seconds "${BASH_REMATCH[1]}")" "$def"
            n=$((n + 1))
        else
            FAILURES+=("libstaple(7) gives no default for $key")
        fi
        if [[ $row =~ ([0-9]+)\ to\ ([0-9]+) ]]; then
            differ "libstaple(7) $key range" "${BASH_REMATCH[1]}-${BASH_REMATCH[2]}" "$min-$max"
        fi
        # the example config: "#KEY = DEFAULT", and the range in the comment above it
        differ "libstaple.conf $key default" \
            "$(seconds "$(conf_value "$key")")" "$def"
        row=$(awk -v k="#$key = " 'index($0, k) == 1 { print text; exit }
            /^$/ { text = "" } /^#/ { text = text " " $0 }' "$CONF")
        if [[ $row =~ ([0-9]+(\ [a-z]+)?)\ to\ ([0-9]+(\ [a-z]+)?) ]]; then
            differ "libstaple.conf $key range" \
                "$(seconds "${BASH_REMATCH[1]}")-$(seconds "${BASH_REMATCH[3]}")" "$min-$max"
        else
            FAILURES+=("libstaple.conf gives no range for $key")
        fi
    done < <(code_numbers)
    # the README's prose: "`KEY` (default VALUE" wherever it says so
    while IFS='|' read -r key def; do
        min=$(code_default "$key")
        [[ -n $min ]] || continue
        differ "README prose $key default" "$(seconds "$def")" "$((min))"
    done < <(tr '\n' ' ' <"$README" | tr -s ' ' |
        grep -oE '`[a-z_]+` \(default [0-9]+( [a-z]+|[smhd])?' |
        sed -E 's/^`([a-z_]+)` \(default (.*)/\1|\2/')
    [ "$n" -ge 3 ]      # the man page's defaults were found at all
    report
}

@test "the documented non-number defaults are the code's" {
    local FAILURES=() dir conf
    dir=$(sed -n 's/^#define DEFAULT_DIR "\(.*\)"$/\1/p' "$CONFIG_C")
    conf=$(sed -n 's/^#define DEFAULT_CONF "\(.*\)"$/\1/p' "$CONFIG_C")
    [[ -n $dir && -n $conf ]]
    differ "README dir" "$(readme_rows | awk -F'|' '$2 == "dir" { print $3 }')" "$dir"
    differ "README LIBSTAPLE_CONF" "$(readme_rows | awk -F'|' '$1 == "LIBSTAPLE_CONF" { print $3 }')" "$conf"
    differ "libstaple.conf dir" "$(conf_value dir)" "$dir"
    man_config | tr '\n' ' ' | grep -qF "staple directory (default .IR $dir )" ||
        FAILURES+=("libstaple(7) does not give $dir as the staple directory's default")
    man_config | tr '\n' ' ' | grep -qF "config file (default .IR $conf ;" ||
        FAILURES+=("libstaple(7) does not give $conf as the config file's default")
    # policy, log_level, enabled: what the code sets, in the words the docs use
    grep -q '^[[:space:]]*staple_conf.policy = STAPLE_POLICY_MUST_STAPLE;' "$CONFIG_C"
    grep -q '^[[:space:]]*staple_conf.log_level = STAPLE_WARN;' "$CONFIG_C"
    grep -q '^[[:space:]]*staple_conf.enabled = 1;' "$CONFIG_C"
    differ "README policy" "$(readme_rows | awk -F'|' '$2 == "policy" { print $3 }')" must-staple
    differ "README log_level" "$(readme_rows | awk -F'|' '$2 == "log_level" { print $3 }')" warn
    differ "README enabled" "$(readme_rows | awk -F'|' '$2 == "enabled" { print $3 }')" yes
    differ "libstaple.conf policy" "$(conf_value policy)" must-staple
    differ "libstaple.conf log_level" "$(conf_value log_level)" warn
    differ "libstaple.conf enabled" "$(conf_value enabled)" yes
    report
}

@test "the LIBSTAPLE_* variables the library reads are the documented ones" {
    local FAILURES=() v code documented
    code=$(grep -ohE '"LIBSTAPLE_[A-Z_]+"' "$TOP"/preload/*.c | tr -d '"' | sort -u)
    [ "$(wc -l <<<"$code")" -ge 5 ]
    documented=$(readme_rows | cut -d'|' -f1 | grep . | sort -u)
    differ "README's variables" "$(echo $documented)" "$(echo $code)"
    documented=$(man_keys | grep '^LIBSTAPLE_' | sort -u)
    differ "libstaple(7)'s variables" "$(echo $documented)" "$(echo $code)"
    report
}

@test "the vetting budget the README gives is the code's" {
    local ns got FAILURES=()
    ns=$(sed -n 's/^#define VET_BUDGET_NS \([0-9]*\)L*$/\1/p' "$TOP/preload/store.c")
    [[ -n $ns ]]
    # every sentence about it: "vetted for up to N ms", "vetting stops after N ms"
    mapfile -t got < <(tr '\n' ' ' <"$README" | tr -s ' ' |
        grep -oE '(vetted for up to|vetting stops after) [0-9]+ ms' | grep -oE '[0-9]+')
    [ "${#got[@]}" -ge 2 ]
    for v in "${got[@]}"; do
        differ "README vetting budget (ms)" "$v" "$((ns / 1000000))"
    done
    report
}
