#!/bin/bash
# packages.sh - packages.list, the one list of the Debian packages postmeter
# needs, agrees with the other places that name them.
#
# Checks that every line is "PURPOSE PACKAGE" with a known purpose and no
# package twice; that every package of debian/control's Build-Depends is a
# build line (debhelper-compat: debhelper, a package line), and every build
# line a Build-Depends, but for what a Debian build has without naming it;
# and that every Debian package configure.ac's errors tell the user to
# install is a build line; and that .ci/run does not install the bench's
# packages. Skips (77) outside a git tree, where debian/ is
# absent (a release tarball). Exit status: 0 pass, 1 fail.
#
# SPDX-License-Identifier: BSD-2-Clause
set -u

: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
# shellcheck source=lib/packages.sh disable=SC1091
. "$top_srcdir/tests/lib/packages.sh"
control=$top_srcdir/debian/control
if [ ! -f "$control" ]; then
    echo "SKIP: no debian/control here" >&2
    exit 77
fi

# Build lines that debian/control need not name: build-essential is implied
# by Debian policy (4.2), and debhelper (compat 13) depends on dh-autoreconf,
# which brings autoconf and automake.
implied="build-essential autoconf automake"

problems=0

# Report one disagreement.
problem() {
    echo "FAIL: $*" >&2
    problems=$((problems + 1))
}

# The format: two fields, a known purpose, each package once.
while read -r line; do
    problem "packages.list: $line"
done < <(awk '{ sub(/#.*/, "") } NF {
        if (NF != 2) print "not \"PURPOSE PACKAGE\": " $0
        else if ($1 !~ /^(build|run|test|package|ci|bench)$/) print "unknown purpose \"" $1 "\": " $0
        else if (seen[$2]++) print $2 " is listed twice" }' "$PM_PACKAGES_LIST")

build=" $(pm_packages build | xargs) "
package=" $(pm_packages package | xargs) "

# The package names of Build-Depends (-Arch, -Indep): no versions,
# architectures or profiles; each alternative counts.
build_depends=$(awk '/^Build-Depends(-Arch|-Indep)?:/ { on = 1; sub(/^[^:]*:/, ""); print; next }
        on && /^[ \t]/ { print; next } { on = 0 }' "$control" |
    tr ',|' '\n' | sed -e 's/([^)]*)//g' -e 's/\[[^]]*\]//g' -e 's/<[^>]*>//g' |
    awk 'NF { print $1 }' | sort -u | xargs)
[ -n "$build_depends" ] || problem "debian/control: no Build-Depends found"

for p in $build_depends; do
    case $p in
    debhelper-compat)
        [[ $package == *" debhelper "* ]] ||
            problem "debian/control builds with debhelper-compat: packages.list has no 'package debhelper'"
        ;;
    *)
        [[ $build == *" $p "* ]] ||
            problem "debian/control's Build-Depends names $p: packages.list has no 'build $p'"
        ;;
    esac
done
for p in $build; do
    [[ " $build_depends $implied " == *" $p "* ]] ||
        problem "packages.list has 'build $p': debian/control's Build-Depends does not name it"
done

# configure.ac: "... not found: install the Debian package NAME".
for p in $(grep -o 'install the Debian package [a-z0-9.+-]*' "$top_srcdir/configure.ac" |
    awk '{ print $NF }' | sort -u); do
    [[ $build == *" $p "* ]] ||
        problem "configure.ac tells the user to install $p: packages.list has no 'build $p'"
done

# CI installs the purposes .ci/run names: never the bench's (its peers, Rspamd).
if [ -f "$top_srcdir/.ci/run" ] && grep 'pm_packages_missing' "$top_srcdir/.ci/run" | grep -qw bench; then
    problem ".ci/run installs the packages of purpose bench: they are bench/run's alone"
fi

[ "$problems" = 0 ] || exit 1
echo "packages.list: $(pm_packages build run test package ci bench | wc -l) packages; Build-Depends:" \
    "$build_depends; agrees with debian/control and configure.ac"
