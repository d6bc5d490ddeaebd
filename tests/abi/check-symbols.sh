#!/bin/sh
# libbufshare exports exactly the functions its public header declares,
# all of them bs_* (STYLE B5): nothing private leaks into the ABI (the
# protocol library it links is internal), nothing declared is missing.
set -eu
lib="$1"
header="$2"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVWiu]$/ { print $3 }' | sed 's/@.*//' | sort -u >"$tmp/exported"
grep -oE '\bbs_[a-z0-9_]+\(' "$header" | tr -d '(' | sort -u >"$tmp/declared"

status=0
if grep -v '^bs_' "$tmp/exported" >"$tmp/bad"; then
        echo "exported symbols outside bs_*:"; sed 's/^/  /' "$tmp/bad"; status=1
fi
if ! diff -u "$tmp/declared" "$tmp/exported" >"$tmp/diff"; then
        echo "exports differ from the functions bufshare.h declares (- declared, + exported):"
        cat "$tmp/diff"; status=1
fi
[ $status -eq 0 ] && echo "libbufshare exports $(wc -l <"$tmp/exported") symbols, exactly those of bufshare.h"
exit $status
