# inline.awk - write the contract's key, argument and reply positions into a
# Redis script as numbers (K.tx -> 13, A.mode -> 1, R.fits -> 1), so that the
# script builds no tables of them on every call (about 150 fields: a few
# microseconds of each meter call). Reads the script whole, its generated
# contract piece included (contract.awk's "local K = {...}" lines, which go);
# the tables a script indexes by value (S, C) stay as they are. Comments are
# left alone; a name the contract lacks fails the build.
#
# SPDX-License-Identifier: BSD-2-Clause

# Stop the build with a message naming the line.
function fail(msg) {
    printf "inline.awk: line %d: %s\n", NR, msg > "/dev/stderr"
    failed = 1
    exit 1
}

# The contract's tables of positions: remember them, write none.
/^local [KAR] = \{.*\}$/ {
    t = substr($2, 1, 1)
    body = $0
    sub(/^local [KAR] = \{/, "", body)
    sub(/\}$/, "", body)
    n = split(body, fields, /, /)
    for (i = 1; i <= n; i++) {
        if (split(fields[i], kv, / = /) != 2 || kv[2] !~ /^[0-9]+$/)
            fail("cannot read " fields[i])
        pos[t "." kv[1]] = kv[2]
    }
    print "-- (the positions of " t " are written into the code below by inline.awk)"
    next
}

/^[ \t]*--/ { print; next }

{
    code = $0
    tail = ""
    c = index(code, "--")
    if (c > 0) {
        tail = substr(code, c)
        code = substr(code, 1, c - 1)
    }
    out = ""
    while (match(code, /[KAR]\.[a-z_][a-z_0-9]*/)) {
        pre = substr(code, 1, RSTART - 1)
        tok = substr(code, RSTART, RLENGTH)
        code = substr(code, RSTART + RLENGTH)
        if (substr(pre, length(pre), 1) ~ /[A-Za-z0-9_.]/) {
            out = out pre tok
        } else {
            if (!(tok in pos))
                fail("no " tok " in the contract")
            out = out pre pos[tok]
        }
    }
    print out code tail
}

END {
    if (failed)
        exit 1
}
