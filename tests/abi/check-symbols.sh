#!/bin/sh
# Fail if libbufshare exports any symbol that is not bs_* (STYLE B5),
# or exports no bs_* symbol at all.
set -eu
lib="$1"
syms=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVWiu]$/ { print $3 }' | sed 's/@.*//')
bad=$(printf '%s\n' "$syms" | grep -v '^bs_' | grep -v '^LIBBUFSHARE_' || true)
good=$(printf '%s\n' "$syms" | grep -c '^bs_' || true)
if [ -n "$bad" ]; then
        echo "libbufshare exports symbols outside bs_*:"
        printf '  %s\n' $bad
        exit 1
fi
if [ "$good" -lt 10 ]; then
        echo "libbufshare exports only $good bs_* symbols: is the version script applied?"
        exit 1
fi
echo "libbufshare exports $good symbols, all bs_*"
