#!/bin/sh
# Every C example of README.md and docs/*.md (each fenced ```c block),
# compiled as written against the public header and -lbufshare with
# -Werror, and run against a live daemon (BUFSHARE_SOCKET, set by
# with-daemon), so the docs can't drift from the code.
#
# A block that is not a whole program says so on the line before its
# fence: <!-- example: compile-only --> (compiled to an object, not run).
# A program whose output the text promises says what it must print, on
# that line too: <!-- example: prints TEXT --> (TEXT found in its stdout).
#
# Usage: test-doc-examples.sh SRCDIR LIBDIR CC [CFLAGS...]
set -u
src=$1 libdir=$2 cc=$3
shift 3
work=$(mktemp -d /tmp/bufshare-doc-examples.XXXXXX)
trap 'rm -rf "$work"' EXIT
n=0 failed=0

# split the markdown files into work/NNN.c, work/NNN.mode and work/NNN.where
for md in "$src/README.md" "$src"/docs/*.md; do
        awk -v out="$work" -v file="${md#"$src"/}" '
                BEGIN { n = 0; mode = "run"; inside = 0; expect = "" }
                /^[ \t]*<!-- example: compile-only -->/ { mode = "compile"; next }
                /^[ \t]*<!-- example: prints .* -->/ {
                        expect = $0
                        sub(/^[ \t]*<!-- example: prints /, "", expect); sub(/ -->[ \t]*$/, "", expect)
                        next
                }
                /^[ \t]*```c[ \t]*$/ && !inside {
                        # a fence may be indented (inside a list): so is its code
                        match($0, /^[ \t]*/); indent = RLENGTH
                        name = file; gsub("/", "_", name)
                        inside = 1; base = sprintf("%s/%s-%03d", out, name, ++n)
                        print mode > (base ".mode"); print file ":" NR + 1 > (base ".where")
                        if (expect != "") print expect > (base ".expect")
                        mode = "run"; expect = ""; next
                }
                /^[ \t]*```/ && inside { inside = 0; next }
                inside { print substr($0, indent + 1) > (base ".c"); next }
                { if ($0 !~ /^[ \t]*$/) { mode = "run"; expect = "" } }
        ' "$md"
done

for c in "$work"/*.c; do
        [ -e "$c" ] || continue
        base=${c%.c}
        where=$(cat "$base.where")
        mode=$(cat "$base.mode")
        n=$((n + 1))
        if [ "$mode" = compile ]; then
                if "$cc" "$@" -Wall -Wextra -Werror -I"$src/include" -c "$c" -o "$base.o" 2>"$base.log"; then
                        echo "ok $n - $where compiles (compile-only)"
                else
                        echo "not ok $n - $where does not compile:"; sed 's/^/    /' "$base.log"; failed=$((failed + 1))
                fi
                continue
        fi
        if ! "$cc" "$@" -Wall -Wextra -Werror -I"$src/include" "$c" -o "$base" \
                -L"$libdir" -Wl,-rpath,"$libdir" -lbufshare 2>"$base.log"; then
                echo "not ok $n - $where does not compile:"; sed 's/^/    /' "$base.log"; failed=$((failed + 1))
                continue
        fi
        # stdout to a file, not a terminal: what a program prints must be
        # flushed to be seen, by the reader's pipe as by this test
        timeout 30 "$base" >"$base.out" 2>"$base.err"
        rc=$?
        if [ "$rc" -ne 0 ]; then
                echo "not ok $n - $where compiles but fails ($rc):"; sed 's/^/    /' "$base.out" "$base.err"
                failed=$((failed + 1))
        elif [ -e "$base.expect" ] && ! grep -qF -- "$(cat "$base.expect")" "$base.out"; then
                echo "not ok $n - $where runs but does not print \"$(cat "$base.expect")\":"
                sed 's/^/    /' "$base.out" "$base.err"; failed=$((failed + 1))
        else
                echo "ok $n - $where compiles and runs"
        fi
done
if [ "$n" -eq 0 ]; then
        echo "not ok 1 - no C example found in $src/README.md or docs/"
        exit 1
fi
echo "1..$n"
[ "$failed" -eq 0 ]
