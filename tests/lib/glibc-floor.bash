# shellcheck shell=bash
# glibc-floor.bash - the glibc floor check shared by tests/glibc-floor.bats
# and tests/dist.bats: the newest GLIBC symbol version a built file may need.

FLOOR=2.17

# over_floor FILE: one line "FILE: SYMBOL@GLIBC_x.y" per dynamic symbol whose
# version is above the floor, and "FILE: needs GLIBC_x.y" per such version
# the file needs without a symbol to show for it. Empty when all is well.
# readelf reads the files of every architecture.
over_floor() {
    local file=$1 v
    readelf --dyn-syms -W "$file" | awk -v f="${file##*/}" -v floor="$FLOOR" '
        function above(v,    a, b, i) {
            split(v, a, "."); split(floor, b, ".")
            for (i = 1; i <= 3; i++) {
                if (a[i] + 0 != b[i] + 0) return a[i] + 0 > b[i] + 0
            }
            return 0
        }
        match($8, /@+GLIBC_[0-9.]+/) {
            v = substr($8, RSTART, RLENGTH); sub(/^@+GLIBC_/, "", v)
            if (above(v)) print f ": " $8
        }'
    for v in $(readelf -V -W "$file" | grep -o 'Name: GLIBC_[0-9.]*' | cut -d_ -f2); do
        if [[ $(printf '%s\n' "$v" "$FLOOR" | sort -V | tail -1) != "$FLOOR" ]]; then
            echo "${file##*/}: needs GLIBC_$v"
        fi
    done
}

# check_floor FILE: fails naming every symbol above the floor.
# shellcheck disable=SC2154 # status and output: set by bats' run
check_floor() {
    [[ -f $1 ]] || { echo "$1 missing"; return 1; }
    run over_floor "$1"
    [[ $status -eq 0 && -z $output ]] || { echo "above GLIBC_$FLOOR:"; echo "$output"; return 1; }
    # the old libdl and libpthread define dlopen & co. (glibc before 2.34)
    run readelf -d -W "$1"
    [[ $output == *"[libdl.so.2]"* && $output == *"[libpthread.so.0]"* ]] ||
        { echo "$1: libdl.so.2 or libpthread.so.0 not NEEDED"; echo "$output"; return 1; }
}
