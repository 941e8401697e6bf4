# contract.awk - turn policy/scripts.contract into the C header of positions
# (awk -v out=h) or the Lua piece of one script (awk -v out=lua -v script=NAME).
# Both number the same lines the same way; see scripts.contract.
#
# SPDX-License-Identifier: BSD-2-Clause

function cname(script, sect, name) {
    return "PM_" toupper(substr(script, 1, 1)) toupper(substr(sect, 1, 1)) "_" toupper(name)
}

/^[ \t]*(#|$)/ { next }

{
    sub(/#.*/, "")
    s = $1; sect = $2; name = $3; count = ($4 == "") ? 1 : $4
    if (sect != "key" && sect != "arg" && sect != "scope" && sect != "reply" && sect != "counter") {
        printf "scripts.contract:%d: unknown section %s\n", NR, sect > "/dev/stderr"
        exit 1
    }
    if (!(s in seen)) {
        seen[s] = 1
        scripts[++nscripts] = s
    }
    k = s SUBSEP sect
    pos[k SUBSEP name] = (k in next_pos) ? next_pos[k] : 0
    next_pos[k] = pos[k SUBSEP name] + count
    order[k, ++n[k]] = name
}

END {
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
