# Guest script (busybox initramfs, run with fuse and cuse loaded): the
# harness works for CUSE tests. bufshared and test-export-import come in
# with --bin.
vm_check "fuse and cuse are loaded" grep -qw cuse /proc/modules
vm_check "/dev/cuse exists" test -c /dev/cuse
vm_check "bufshared listens on a socket in the guest" vm_start_bufshared /run/bufshare.socket
# the integration test starts its own daemons from $BUFSHARED
export BUFSHARED=/vm/bin/bufshared
vm_check "test-export-import passes in the guest" test-export-import
