#!/usr/bin/env bash
# Installs Debian's chromium and chromium-driver for the console's browser test (tests/api/browser.rs) when they
# are missing, and exports JUESUAN_REQUIRE_BROWSER so that the test fails, rather than says SKIPPED, if they are
# still absent. Sourced by .ci/run.

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    echo "== installing chromium and chromium-driver (Debian packages)"
    if [ "$(id -u)" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
    else
        sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
    fi
fi
# Debian's chromium wrapper script misparses some environments when asked for --version: ask the package database.
dpkg-query -W -f='${Package} ${Version}\n' chromium chromium-driver 2>/dev/null || true
export JUESUAN_REQUIRE_BROWSER=1
