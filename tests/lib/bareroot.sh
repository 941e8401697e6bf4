# shellcheck shell=bash
# bareroot.sh - a bare Debian 12 root (debootstrap --variant=minbase) to run
# commands in with chroot, as on a freshly installed machine.
#
# Sourced by tests/bare/run (the README's quick start) and tests/package/run
# (the package's install orders), as root. The root is made once with
# debootstrap and cached as a tarball in $POSTMETER_BARE_CACHE (default
# /var/cache/postmeter-bare), made again when older than 30 days, one maker
# at a time; the mirror is the host's (its apt sources), or
# $POSTMETER_BARE_MIRROR. pm_bare_unpack unpacks it into a directory and
# gives it the host's Debian sources and resolver and a policy-rc.d that
# keeps packaged services from starting (the root shares the host's
# network); pm_bare_mount mounts /proc, /sys, /dev and /dev/pts in it;
# pm_bare_remove stops what still runs inside, unmounts and removes it.
# Sets no trap: the caller calls pm_bare_remove from its own.
#
# A trap met there: tar restores the mode of "." from the archive, so the
# root is set to 755 after unpacking (Postfix's master opens its data lock
# as the postfix user, who must traverse /).
#
# SPDX-License-Identifier: BSD-2-Clause

PM_BARE_SUITE=bookworm
PM_BARE_CACHE=${POSTMETER_BARE_CACHE:-/var/cache/postmeter-bare}

# Print "seconds since $1" as "Ns".
pm_bare_took() {
    echo "$((SECONDS - $1))s"
}

# Print the host's Debian sources for the suite (and its -updates and
# -security) as sources.list lines, from the one-line and the deb822 files.
pm_bare_host_sources() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        # deb [options] URI SUITE COMPONENTS...
        awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while (i < NF && $i !~ /\]$/) i++; i++ }
                line = "deb " $i; for (j = i + 1; j <= NF && $j !~ /^#/; j++) line = line " " $j
                print line }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk 'function flush(u, s, n, m, i, k, a, b) {
                if (types ~ /(^| )deb( |$)/ && tolower(enabled) != "no") {
                    n = split(uris, a, " "); m = split(suites, b, " ")
                    for (i = 1; i <= n; i++) for (k = 1; k <= m; k++) print "deb " a[i] " " b[k] " " comps
                }
                types = uris = suites = comps = ""; enabled = "yes" }
            BEGIN { enabled = "yes" }
            /^[ \t]*$/ { flush(); next }
            /^#/ { next }
            /^[A-Za-z-]+:/ { key = tolower($1); sub(/^[^:]*:[ \t]*/, "")
                if (key == "types:") types = $0; else if (key == "uris:") uris = $0
                else if (key == "suites:") suites = $0; else if (key == "components:") comps = $0
                else if (key == "enabled:") enabled = $0 }
            END { flush() }' "$f"
    done | awk -v s="$PM_BARE_SUITE" '$3 == s || $3 == s "-updates" || $3 == s "-security"' |
        awk '!seen[$0]++'
}

# Print the mirror debootstrap uses: $POSTMETER_BARE_MIRROR, else the host's.
pm_bare_mirror() {
    local m=${POSTMETER_BARE_MIRROR:-}
    [ -n "$m" ] || m=$(pm_bare_host_sources | awk -v s="$PM_BARE_SUITE" '$3 == s { print $2; exit }')
    echo "${m:-http://deb.debian.org/debian}"
}

# Make the cached tarball $1 of a minimal root, unless a recent one exists.
pm_bare_cache_root() {
    local tarball=$1 tmp t0=$SECONDS
    if [ -s "$tarball" ] && [ -z "$(find "$tarball" -mtime +30)" ]; then
        echo "== bare root: the cached $tarball"
        return 0
    fi
    echo "== bare root: debootstrap --variant=minbase --include=sudo $PM_BARE_SUITE from $(pm_bare_mirror)"
    tmp=$(mktemp -d "$PM_BARE_CACHE/debootstrap.XXXXXX") || return 1
    if ! debootstrap --variant=minbase --include=sudo "$PM_BARE_SUITE" "$tmp/root" \
        "$(pm_bare_mirror)" >"$tmp/log" 2>&1; then
        tail -n 30 "$tmp/log" >&2
        rm -rf --one-file-system "$tmp"
        return 1
    fi
    chmod 755 "$tmp/root"
    tar -C "$tmp/root" -czf "$tmp/root.tar.gz" . && mv "$tmp/root.tar.gz" "$tarball"
    rm -rf --one-file-system "$tmp"
    echo "   debootstrap and tarball: $(pm_bare_took "$t0")"
    [ -s "$tarball" ]
}

# Print the path of the cached tarball, made first if need be (one maker at a time).
pm_bare_tarball() {
    local tarball rc
    mkdir -p "$PM_BARE_CACHE" || return 1
    tarball=$PM_BARE_CACHE/$PM_BARE_SUITE-minbase-sudo-$(dpkg --print-architecture).tar.gz
    {
        flock 9 && pm_bare_cache_root "$tarball" >&2
        rc=$?
    } 9>"$PM_BARE_CACHE/lock"
    [ "$rc" = 0 ] && echo "$tarball"
}

# Unpack the cached root into directory $1 (new or empty) and make it ready:
# the host's Debian sources and resolver, /etc/hosts, a policy-rc.d.
pm_bare_unpack() {
    local root=$1 tarball sources
    tarball=$(pm_bare_tarball) || return 1
    mkdir -p "$root" && tar -C "$root" -xzf "$tarball" || return 1
    # tar gave "." the mode it had in the archive: the postfix user must traverse /
    chmod 755 "$root"
    sources=$(pm_bare_host_sources)
    [ -n "$sources" ] || sources="deb $(pm_bare_mirror) $PM_BARE_SUITE main"
    printf '%s\n' "$sources" >"$root/etc/apt/sources.list"
    cp -L /etc/resolv.conf "$root/etc/resolv.conf"
    printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n' \
        "$(uname -n)" >"$root/etc/hosts"
    # No service starts in a chroot anyway; keep it so (the root shares the host's network).
    printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
    chmod 755 "$root/usr/sbin/policy-rc.d"
}

# Mount /proc, /sys, /dev and /dev/pts in root $1.
pm_bare_mount() {
    local root=$1
    mount -t proc proc "$root/proc" && mount -t sysfs sysfs "$root/sys" &&
        mount --bind /dev "$root/dev" && mount --bind /dev/pts "$root/dev/pts"
}

# Signal $2 to every process whose root is root $1 (what a command left running).
pm_bare_kill_inside() {
    local root=$1 p
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && kill "-$2" "${p#/proc/}" 2>/dev/null
    done
    return 0
}

# Stop what runs inside root $2, unmount it and remove directory $1 (which
# holds the root); 1 when something stays mounted (then $1 stays, said so).
pm_bare_remove() {
    local work=$1 root=$2 m
    [ -n "$root" ] && [ -d "$root" ] || return 0
    pm_bare_kill_inside "$root" TERM
    sleep 1
    pm_bare_kill_inside "$root" KILL
    for m in dev/pts dev sys proc; do
        mountpoint -q "$root/$m" 2>/dev/null || continue
        umount "$root/$m" 2>/dev/null || umount -l "$root/$m"
    done
    if grep -q " $root/" /proc/self/mounts; then
        echo "bareroot: still mounted under $root; $work is left in place" >&2
        return 1
    fi
    rm -rf --one-file-system "$work"
}
