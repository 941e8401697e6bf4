# shellcheck shell=bash
# packages.sh - the Debian packages of packages.list: list them by purpose,
# find those that are not installed, install them.
#
# Sourced by demo/run, tests/run-all, .ci/run, bench/run and tests/packages.sh. Unlike
# common.sh it makes no temporary directory and sets no trap.
#
# SPDX-License-Identifier: BSD-2-Clause

PM_PACKAGES_LIST=${PM_PACKAGES_LIST:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/packages.list}

# Print the packages of the given purposes (build, run, test, package, ci, bench), one per line.
pm_packages() {
    awk -v want=" $* " '{ sub(/#.*/, "") } NF && index(want, " " $1 " ") { print $2 }' \
        "$PM_PACKAGES_LIST"
}

# Print the packages of the given purposes that are not installed, one per line.
pm_packages_missing() {
    local p
    for p in $(pm_packages "$@"); do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' ||
            echo "$p"
    done
}

# Install the packages named (as root, with apt-get, without recommends);
# Postfix is preseeded with "No configuration", so no system instance runs.
pm_packages_apt() {
    [ $# -gt 0 ] || return 0
    if [ "$(id -u)" != 0 ]; then
        echo "missing Debian packages: $*; run this as root to have them installed" >&2
        return 1
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "missing Debian packages: $*; there is no apt-get here to install them" >&2
        return 1
    fi
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    # an unreachable extra source should not stop the install from Debian's archive
    apt-get update -q || echo "apt-get update failed; installing from the package lists at hand" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" || {
        echo "apt-get install failed for: $*" >&2
        return 1
    }
}
