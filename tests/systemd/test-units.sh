#!/bin/sh
# SPDX-License-Identifier: MIT
# The systemd files as a system would read them: systemd-analyze verify
# on the units (ExecStart pointed at this build's bufshared, which must
# exist), the exposure score of `systemd-analyze security`, and the
# sysusers and tmpfiles snippets applied to a scratch root. TAP.
# Usage: test-units.sh SRCDIR BUILDDIR
set -u
src=$1
build=$2
n=0
failed=0

ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=1; echo "not ok $n - $1"; [ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/# /'; }

for tool in systemd-analyze systemd-sysusers systemd-tmpfiles; do
        if ! command -v $tool >/dev/null 2>&1; then
                if [ "${CI:-}" = true ]; then
                        echo "Bail out! no $tool (Debian package systemd; CI=true: required)"
                        exit 1
                fi
                echo "1..0 # SKIP no $tool (Debian package systemd)"
                exit 77
        fi
done

tmp=$(mktemp -d /tmp/bufshare-units.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/units" "$tmp/root/etc"
sed "s|^ExecStart=[^ ]*|ExecStart=$build/daemon/bufshared|" "$build/systemd/bufshare.service" \
        >"$tmp/units/bufshare.service"
cp "$src/systemd/bufshare.socket" "$tmp/units/"

for unit in bufshare.socket bufshare.service; do
        if out=$(cd "$tmp/units" && systemd-analyze verify --man=no "./$unit" 2>&1) && [ -z "$out" ]; then
                ok "systemd-analyze verify $unit"
        else
                not_ok "systemd-analyze verify $unit" "$out"
        fi
done

# the installed unit as written, not our copy: its score is in the README
out=$(systemd-analyze security --offline=true --no-pager "$build/systemd/bufshare.service" 2>&1)
score=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for bufshare.service: \([0-9.]*\).*/\1/p')
echo "# systemd-analyze security: $score"
if [ -n "$score" ] && awk "BEGIN { exit !($score <= 1.5) }"; then
        ok "systemd-analyze security: exposure $score (at most 1.5)"
else
        not_ok "systemd-analyze security: exposure ${score:-unknown} (at most 1.5)" "$out"
fi
if grep -q '^User=bufshare$' "$build/systemd/bufshare.service" && ! grep -q '^User=root' "$build/systemd/bufshare.service"; then
        ok "the service runs as bufshare, never root"
else
        not_ok "the service runs as bufshare, never root"
fi

# sysusers then tmpfiles into a scratch root, as at boot
if out=$(systemd-sysusers --root="$tmp/root" "$src/systemd/bufshare.sysusers" 2>&1) &&
   line=$(grep '^bufshare:' "$tmp/root/etc/passwd"); then
        ok "sysusers makes the bufshare system user"
        uid=$(echo "$line" | cut -d: -f3)
        shell=$(echo "$line" | cut -d: -f7)
        if [ "$uid" -gt 0 ] && [ "$uid" -lt 1000 ] && { [ "$shell" = /usr/sbin/nologin ] || [ "$shell" = /sbin/nologin ]; }; then
                ok "bufshare is a system uid ($uid) without a shell ($shell)"
        else
                not_ok "bufshare is a system uid without a shell" "$line"
        fi
else
        not_ok "sysusers makes the bufshare system user" "$out"
        uid=
fi
if out=$(systemd-tmpfiles --root="$tmp/root" --create "$src/systemd/bufshare.tmpfiles" 2>&1) &&
   [ -d "$tmp/root/run/bufshare" ] && [ "$(stat -c '%u %a' "$tmp/root/run/bufshare")" = "$uid 755" ]; then
        ok "tmpfiles makes /run/bufshare, the service's, 0755"
else
        not_ok "tmpfiles makes /run/bufshare, the service's, 0755" "$out $(stat -c '%u %a' "$tmp/root/run/bufshare" 2>&1)"
fi

echo "1..$n"
exit $failed
