# contract.awk - turn policy/scripts.contract into the C header of positions
# (awk -v out=h) or the Lua piece of one script (awk -v out=lua -v script=NAME).
# Both number the same lines the same way; see scripts.contract.
#
# SPDX-License-Identifier: BSD-2-Clause

function cname(script, sect, name) {
    return "PM_" letter[script] toupper(substr(sect, 1, 1)) "_" toupper(name)
}

# A script's letter in C names: its first, or the one a "SCRIPT letter X"
# line gives; two scripts with one letter fail the build.
function script_seen(s, line) {
    if (s in seen)
        return
    seen[s] = 1
    scripts[++nscripts] = s
    if (!(s in letter))
        letter[s] = toupper(substr(s, 1, 1))
}

/^[ \t]*(#|$)/ { next }

{
    sub(/#.*/, "")
    s = $1; sect = $2; name = $3; count = ($4 == "") ? 1 : $4
    if (sect == "letter") {
        if (s in seen || name !~ /^[A-Za-z]$/) {
            printf "scripts.contract:%d: \"%s letter X\" comes before the script's lines, X one letter\n", NR, s > "/dev/stderr"
            failed = 1
            exit 1
        }
        letter[s] = toupper(name)
        next
    }
    if (sect != "key" && sect != "arg" && sect != "scope" && sect != "reply" && sect != "counter") {
        printf "scripts.contract:%d: unknown section %s\n", NR, sect > "/dev/stderr"
        failed = 1
        exit 1
    }
    script_seen(s, NR)
    k = s SUBSEP sect
    pos[k SUBSEP name] = (k in next_pos) ? next_pos[k] : 0
    next_pos[k] = pos[k SUBSEP name] + count
    order[k, ++n[k]] = name
}

END {
    if (failed)
        exit 1
    # the prelude reads the test clock offset as ARGV[1], before any contract
    for (i = 1; i <= nscripts; i++)
        if (order[scripts[i] SUBSEP "arg", 1] != "clock") {
            printf "scripts.contract: script %s's first arg is not clock (prelude.lua reads ARGV[1])\n", scripts[i] > "/dev/stderr"
            exit 1
        }
    for (i = 1; i <= nscripts; i++) {
        if (letter[scripts[i]] in owner) {
            printf "scripts.contract: scripts %s and %s would both be PM_%s* in C: give one a line \"NAME letter X\"\n", owner[letter[scripts[i]]], scripts[i], letter[scripts[i]] > "/dev/stderr"
            exit 1
        }
        owner[letter[scripts[i]]] = scripts[i]
    }
    if (out == "h") {
        print "/* generated from scripts.contract by contract.awk: do not edit */"
        print "#ifndef PM_CONTRACT_H"
        print "#define PM_CONTRACT_H"
        for (i = 1; i <= nscripts; i++) {
            s = scripts[i]
            split("key arg scope reply counter", sects, " ")
            for (j = 1; j <= 5; j++) {
                k = s SUBSEP sects[j]
                if (!(k in n))
                    continue
                printf "enum {\n"
                for (m = 1; m <= n[k]; m++)
                    printf "    %s = %d,\n", cname(s, sects[j], order[k, m]), pos[k SUBSEP order[k, m]]
                printf "    %s = %d\n};\n", cname(s, sects[j], "count"), next_pos[k]
            }
        }
        print "#endif"
        exit 0
    }
    # Lua: 1-based KEYS/ARGV/reply indices, 0-based offsets in a scope block
    # and counter numbers
    print "-- generated from scripts.contract by contract.awk: do not edit"
    split("key arg scope reply counter", sects, " ")
    split("K A S R C", tables, " ")
    for (j = 1; j <= 5; j++) {
        k = script SUBSEP sects[j]
        printf "local %s = {", tables[j]
        for (m = 1; m <= n[k]; m++)
            printf "%s%s = %d", (m > 1 ? ", " : ""), order[k, m],
                   pos[k SUBSEP order[k, m]] + (sects[j] == "scope" || sects[j] == "counter" ? 0 : 1)
        printf "}\n"
        printf "local N%s = %d\n", tables[j], (k in next_pos) ? next_pos[k] : 0
    }
}
