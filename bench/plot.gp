# gnuplot -e "dir='build/bench'" bench/plot.gp
# Reads scale.dat and handover.dat from bufshare-bench --plot-dir, writes bench.png there.
if (!exists("dir")) dir = "."
set terminal pngcairo size 1200,480 font "sans,10" noenhanced
set output dir."/bench.png"
set multiplot layout 1,2 title "bufshare-bench (one run; times in microseconds)"

set title "export + map + touch + unmap + put, against live buffers held"
set xlabel "live buffers held by the client"
set ylabel "latency (us)"
set logscale x
set yrange [0:*]
set key top left
plot dir."/scale.dat" using 1:2 with linespoints lw 2 title "p50 (same cpu)", \
     dir."/scale.dat" using 1:3 with linespoints lw 2 title "p99 (same cpu)", \
     dir."/scale.dat" using 1:4 with linespoints lw 2 title "p50 (unpinned)"

set title "handover p50, consumer on the other cpu: producer done -> consumer may read"
set xlabel "frame size (MiB)"
set ylabel "latency (us)"
set logscale xy
set yrange [*:*]
set key top left
plot dir."/handover.dat" using 1:2 with linespoints lw 2 title "bufshare (map once)", \
     dir."/handover.dat" using 1:3 with linespoints lw 2 title "unix stream copy", \
     dir."/handover.dat" using 1:4 with linespoints lw 2 title "pipe copy (1 MiB pipe)", \
     dir."/handover.dat" using 1:5 with linespoints lw 2 title "shm_open + mmap per frame", \
     dir."/handover.dat" using 1:6 with linespoints lw 2 dt 2 title "floor: pre-mapped memfd pool + 1-byte message"
unset multiplot
