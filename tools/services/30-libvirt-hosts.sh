#!/usr/bin/env bash
# Two libvirt "hosts" on this one machine, and a tiny TCG guest that can be
# live-migrated (post-copy) between them, for the destination-agent tests.
#   bash tools/services/30-libvirt-hosts.sh up|down|restart-libvirtd A|B
#
# Each host is a libvirtd in its own network + UTS + mount namespace:
#   host A: netns <P>A, hostname hosta.wa.test, 10.77.0.1/24
#   host B: netns <P>B, hostname hostb.wa.test, 10.77.0.2/24
# joined by a veth pair (the addresses exist only inside the namespaces).
# /etc/libvirt, /run, /var/lib/libvirt, /var/cache/libvirt and
# /var/log/libvirt are bind-mounted from $STATE/host{A,B}/, each host has
# its own host_uuid and listens on TCP (no auth) on its address only, so
# peer-to-peer migration from A goes to qemu+tcp://10.77.0.2/system.
# Clients in the root namespace use the unix socket URIs in hosts.json.
#
# The guest: the Debian cloud kernel (apt-get download + dpkg -x) and a
# busybox-static initramfs (virtio_balloon) whose /init dirties a small
# tmpfs file in a loop and prints "HB <n> <uptime>" on the serial port.
# Guests run as <domain type='qemu'> (TCG): KVM does not boot guests on
# this machine kind.  TCG pre-copy crashed guests in the feasibility runs;
# use post-copy (tests/functional/libvirt_hosts.py).
#
# Writes $STATE/hosts.json, or $STATE/unavailable (the reason) and exits 0.
# See tools/services/README.rst for the contract.
set -Eeuo pipefail
# tools/run-tests.sh starts the services side by side: their apt-get
# runs take turns (apt-get update's lists lock does not wait like dpkg's)
APT_LOCK=(flock "${TMPDIR:-/tmp}/watcher-adaptive-apt.lock")
STATE=${WA_STATE_DIR:-${TMPDIR:-/tmp}/watcher-adaptive-state}/libvirt
GUEST_MEM_MIB=${WA_GUEST_MEM_MIB:-192}
# namespace / interface names are per state directory, so two checkouts
# never touch each other's hosts
P="wa$(printf '%s' "$STATE" | md5sum | cut -c1-6)"
DOMAIN_SUFFIX=wa.test
HOSTS=(A B)
declare -A IP=([A]=10.77.0.1 [B]=10.77.0.2)
PKGS=(libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients
      qemu-system-x86 busybox-static cpio iproute2 util-linux
      libvirt-dev pkg-config)
mkdir -p "$STATE"
# shellcheck source=tools/services/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
started=$(date +%s)
say() { echo "[libvirt-hosts $(( $(date +%s) - started ))s] $*"; }

uri() { echo "qemu+unix:///system?socket=$STATE/host$1/run/libvirt/libvirt-sock"; }

unavailable() { give_up "$1" "functional tests that need the libvirt hosts"; }

apt_install() {
    command -v apt-get >/dev/null || return 1
    export DEBIAN_FRONTEND=noninteractive
    "${APT_LOCK[@]}" apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null
    "${APT_LOCK[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -q \
        --no-install-recommends "$@" >/dev/null
}

install_packages() {
    local missing=() p
    for p in "${PKGS[@]}"; do
        installed "$p" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "apt-get install ${missing[*]}"
    apt_install "${missing[@]}" \
        || unavailable "apt-get could not install ${missing[*]}"
}

add_qemu_guest_agent() {  # add_qemu_guest_agent GUEST_DIR
    # qemu-ga from Debian's package, with the host's copies of its shared
    # libraries (guest and host are the same Debian release)
    local g=$1 bin lib
    if [ ! -x "$g/qemu-ga" ]; then
        rm -rf "$g/qga" && mkdir -p "$g/qga"
        (cd "$g/qga" && "${APT_LOCK[@]}" apt-get download -q qemu-guest-agent >/dev/null 2>&1) \
            || { say "no qemu-guest-agent package: guests run without qemu-ga"; return 0; }
        dpkg -x "$g"/qga/qemu-guest-agent_*.deb "$g/qga/x"
        cp "$g/qga/x/usr/sbin/qemu-ga" "$g/qemu-ga"
        rm -rf "$g/qga"
    fi
    bin=$g/initrd/bin/qemu-ga
    cp "$g/qemu-ga" "$bin"
    for lib in $(ldd "$g/qemu-ga" | grep -o '/[^ ]*'); do
        mkdir -p "$g/initrd$(dirname "$lib")"
        cp -L "$lib" "$g/initrd$lib"
    done
}

add_workload() {  # add_workload GUEST_DIR: the optional hot/cold workload
    # /bin/wa-workload runs only when the kernel command line says
    # wa_workload=HOT_MIB,COLD_MIB,DIRTY_MIB_S (the benchmark and the
    # reclaim tests set it; the default guest does not).  Needs gcc with
    # static glibc on the host; without it the guest has no workload.
    local g=$1
    command -v gcc >/dev/null || { say "no gcc: guest without wa-workload"; return 0; }
    cat > "$g/wa-workload.c" <<'C'
/* wa-workload HOT_MIB COLD_MIB DIRTY_MIB_S
 * Fills COLD_MIB of anonymous memory once (a distinct word per page, so
 * no page is a zero page) and never touches it again; HOT_MIB is read
 * and written at random every 10 ms (64 pages a burst) and each access is
 * timed; DIRTY_MIB_S MiB/s are written into a third area (4 MiB, cycled).
 * Prints "WL-READY <hot_mib> <cold_mib> <hot_gva> <cold_gva>" once, then
 * every second "LAT <n> <count> <p50_us> <p99_us> <max_us>" (accesses of
 * that second) on stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#define PG 4096UL
static double now_us(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e6 + t.tv_nsec / 1e3; }
/* accesses are timed with the TSC (the guest's clock may step in
 * jiffies under TCG), converted with the ticks per microsecond of the
 * last second */
static unsigned long long tsc(void) { unsigned lo, hi; __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi)); return ((unsigned long long)hi << 32) | lo; }
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }
static char *area(unsigned long n) {
    char *p = mmap(0, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED) { perror("mmap"); exit(1); }
    return p;
}
int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: wa-workload HOT_MIB COLD_MIB DIRTY_MIB_S\n"); return 2; }
    unsigned long hot = strtoul(argv[1], 0, 10) << 20, cold = strtoul(argv[2], 0, 10) << 20;
    unsigned long dirty_rate = strtoul(argv[3], 0, 10) << 20, dsz = 4UL << 20, doff = 0;
    char *h = area(hot), *c = area(cold), *d = area(dsz);
    for (unsigned long i = 0; i < cold; i += PG) *(unsigned long *)(c + i) = i | 1;
    for (unsigned long i = 0; i < hot; i += PG) *(unsigned long *)(h + i) = i | 1;
    printf("WL-READY %lu %lu %p %p\n", hot >> 20, cold >> 20, (void *)h, (void *)c);
    fflush(stdout);
    static double lat[200000];
    unsigned long n = 0, sec = 0, seed = 12345, pages = hot / PG;
    double start = now_us(), next = start + 1e6, last = start, per_us = 0;
    unsigned long long tsc0 = tsc();
    for (;;) {
        for (int k = 0; k < 64; k++) {
            seed = seed * 6364136223846793005UL + 1442695040888963407UL;
            volatile unsigned long *w = (unsigned long *)(h + ((seed >> 33) % pages) * PG);
            unsigned long long t0 = tsc();
            *w = *w + 1;
            if (n < 200000) lat[n++] = (double)(tsc() - t0);
        }
        double t = now_us();
        if (dirty_rate) {
            unsigned long bytes = (unsigned long)(dirty_rate * (t - last) / 1e6);
            for (unsigned long i = 0; i < bytes; i += PG) { d[doff] ^= 1; doff = (doff + PG) % dsz; }
        }
        last = t;
        if (t >= next) {
            unsigned long long tsc1 = tsc();
            per_us = (double)(tsc1 - tsc0) / (t - start);
            tsc0 = tsc1; start = t;
            for (unsigned long i = 0; i < n; i++) lat[i] /= per_us;
            qsort(lat, n, sizeof lat[0], cmp);
            printf("LAT %lu %lu %.1f %.1f %.0f\n", ++sec, n, n ? lat[n / 2] : 0, n ? lat[n * 99 / 100] : 0, n ? lat[n - 1] : 0);
            fflush(stdout);
            n = 0; next += 1e6;
            if (next < t) next = t + 1e6;
        }
        struct timespec s = {0, 10000000};
        nanosleep(&s, 0);
    }
}
C
    if gcc -O2 -static -o "$g/initrd/bin/wa-workload" "$g/wa-workload.c" 2>"$g/wa-workload.err"; then
        rm -f "$g/wa-workload.err"
    else
        say "wa-workload did not build ($(tail -1 "$g/wa-workload.err")): guest without it"
        rm -f "$g/initrd/bin/wa-workload"
    fi
}

build_guest() {
    local g=$STATE/guest kver deb m f
    mkdir -p "$g"
    if [ ! -s "$g/vmlinuz" ]; then
        # the current cloud kernel, e.g. linux-image-6.1.0-NN-cloud-amd64
        kver=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null \
            | sed -n 's/^ *Depends: \(linux-image-[0-9].*-cloud-amd64\)$/\1/p' \
            | head -1)
        [ -n "$kver" ] || unavailable "no linux-image-*-cloud-amd64 in apt"
        rm -rf "$g/kern" && mkdir -p "$g/kern"
        (cd "$g/kern" && "${APT_LOCK[@]}" apt-get download -q "$kver" >/dev/null 2>&1) \
            || unavailable "apt-get download $kver failed"
        deb=$(ls "$g"/kern/linux-image-*.deb)
        dpkg -x "$deb" "$g/kern/x"
        rm -rf "$g/modules" && mkdir -p "$g/modules"
        # only what the initramfs needs; whatever is built in is absent
        for m in virtio_ring virtio virtio_pci_legacy_dev \
                 virtio_pci_modern_dev virtio_pci virtio_balloon \
                 virtio_console; do
            f=$(find "$g/kern/x/lib/modules" -name "$m.ko*" | head -1)
            case "$f" in
                "") ;;
                *.xz) xz -dc "$f" > "$g/modules/$m.ko" ;;
                *) cp "$f" "$g/modules/$m.ko" ;;
            esac
        done
        cp "$g"/kern/x/boot/vmlinuz-* "$g/vmlinuz.tmp"
        rm -rf "$g/kern"
        mv "$g/vmlinuz.tmp" "$g/vmlinuz"
        say "guest kernel: $kver"
    fi
    rm -rf "$g/initrd" && mkdir -p "$g"/initrd/{bin,proc,sys,dev,tmp,lib/modules}
    cp /bin/busybox "$g/initrd/bin/busybox"
    add_qemu_guest_agent "$g"
    add_workload "$g"
    cp "$g"/modules/*.ko "$g/initrd/lib/modules/" 2>/dev/null || true
    cat > "$g/initrd/init" <<'INIT'
#!/bin/busybox sh
# the tiny guest: virtio_balloon, then dirty an 8 MiB tmpfs file forever
# and print a heartbeat on the serial console
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs -o size=48m tmpfs /tmp
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev \
         virtio_pci virtio_balloon virtio_console; do
    [ -f /lib/modules/$m.ko ] && insmod /lib/modules/$m.ko
done
# the QEMU guest agent on its channel, when the domain has one
for d in /sys/class/virtio-ports/*; do
    [ "$(cat "$d/name" 2>/dev/null)" = org.qemu.guest_agent.0 ] || continue
    [ -x /bin/qemu-ga ] && /bin/qemu-ga -m virtio-serial \
        -p "/dev/$(basename "$d")" -t /tmp -f /tmp/qemu-ga.pid -d
done
mkdir -p /var/lib/watcher-adaptive
# the optional hot/cold workload: wa_workload=HOT_MIB,COLD_MIB,DIRTY_MIB_S
for a in $(cat /proc/cmdline); do
    case "$a" in wa_workload=*)
        [ -x /bin/wa-workload ] && /bin/wa-workload $(echo "${a#wa_workload=}" | tr , ' ') &
    esac
done
echo "GUEST-UP $(cut -d' ' -f1 /proc/uptime) $(grep MemTotal /proc/meminfo | tr -s ' ')"
i=0
while true; do
    yes "HB$i" | head -c 8388608 > /tmp/blob
    i=$((i+1))
    mem=$(grep MemTotal /proc/meminfo | tr -s ' ' | cut -d' ' -f2)
    echo "HB $i $(cut -d' ' -f1 /proc/uptime) $mem"
    # a profile record as the guest agent keeps them (the newest four),
    # for the collector's qemu-ga channel
    f=/var/lib/watcher-adaptive/profile.jsonl
    { tail -n 3 $f 2>/dev/null
      echo "{\"v\":\"1.0\",\"ts\":$(date +%s),\"seq\":$i,\"interval_s\":1,\"sources\":{\"memory\":\"proc\"},\"f\":{\"mem.total_mb\":$((mem / 1024))}}"
    } > $f.tmp && mv $f.tmp $f
    sleep 1
done
INIT
    chmod +x "$g/initrd/init"
    (cd "$g/initrd" && find . | cpio -o -H newc 2>/dev/null | gzip -1) \
        > "$g/initrd.gz.tmp"
    mv "$g/initrd.gz.tmp" "$g/initrd.gz"
    rm -rf "$g/initrd"
    # @NAME@ is the domain name; the serial log lands in each host's own
    # /var/log/libvirt/qemu, i.e. $STATE/host<X>/log/qemu/<name>.serial
    cat > "$g/domain.xml.in" <<XML
<domain type='qemu'>
  <name>@NAME@</name>
  <memory unit='MiB'>$GUEST_MEM_MIB</memory>
  <currentMemory unit='MiB'>$GUEST_MEM_MIB</currentMemory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$g/vmlinuz</kernel>
    <initrd>$g/initrd.gz</initrd>
    <cmdline>console=ttyS0 panic=-1 quiet</cmdline>
  </os>
  <cpu mode='custom' match='exact'><model fallback='forbid'>qemu64</model></cpu>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <serial type='file'>
      <source path='/var/log/libvirt/qemu/@NAME@.serial'/>
      <target port='0'/>
    </serial>
    <channel type='unix'>
      <target type='virtio' name='org.qemu.guest_agent.0'/>
    </channel>
    <memballoon model='virtio'><stats period='2'/></memballoon>
  </devices>
</domain>
XML
    # the same guest with a second QMP monitor (the destination agent
    # balloons through it while libvirt's job is held by post-copy);
    # libvirt marks such a domain tainted (custom-argv)
    sed -e "s|<domain type='qemu'>|<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>|" \
        -e "s|</devices>|</devices>\\n  <qemu:commandline>\\n    <qemu:arg value='-qmp'/>\\n    <qemu:arg value='unix:/run/libvirt/qemu/@NAME@.qmp2,server=on,wait=off'/>\\n  </qemu:commandline>|" \
        "$g/domain.xml.in" > "$g/domain-qmp2.xml.in"
}

start_host() {  # start_host A|B
    local X=$1 H=$STATE/host$1 x uuid
    x=$(echo "$X" | tr AB ab)
    # a fresh copy of the system config (no domains, no networks)
    rm -rf "${H:?}/etc" "${H:?}/run"
    mkdir -p "$H"/{run,lib,cache,log/qemu}
    cp -a /etc/libvirt "$H/etc"
    rm -f "$H"/etc/qemu/networks/autostart/*.xml "$H"/etc/qemu/*.xml
    [ -s "$H/host_uuid" ] || cat /proc/sys/kernel/random/uuid > "$H/host_uuid"
    uuid=$(cat "$H/host_uuid")
    cat > "$H/etc/libvirtd.conf" <<CONF
host_uuid = "$uuid"
listen_tls = 0
listen_tcp = 1
listen_addr = "${IP[$X]}"
auth_tcp = "none"
auth_unix_ro = "none"
auth_unix_rw = "none"
unix_sock_rw_perms = "0700"
log_filters = "1:qemu.qemu_migration 3:*"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
CONF
    cat > "$H/etc/qemu.conf" <<CONF
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
stdio_handler = "file"
migration_address = "${IP[$X]}"
migration_host = "${IP[$X]}"
CONF
    launch_libvirtd "$X"
}

launch_libvirtd() {  # launch_libvirtd A|B: start host X's libvirtd
    local X=$1 H=$STATE/host$1 x
    x=$(echo "$X" | tr AB ab)
    # 'ip netns exec' gives a new mount namespace already; unshare adds a
    # private UTS one and keeps the bind mounts away from the root one
    ip netns exec "$P$X" unshare --uts --mount --propagation private sh -c "
        set -e
        hostname host$x.$DOMAIN_SUFFIX
        mount --bind '$H/etc' /etc/libvirt
        mount --bind '$H/run' /run
        mount --bind '$H/lib' /var/lib/libvirt
        mount --bind '$H/cache' /var/cache/libvirt
        mount --bind '$H/log' /var/log/libvirt
        exec libvirtd -d --listen --pid-file '$H/libvirtd.pid'" \
        >"$H/start.log" 2>&1 \
        || unavailable "libvirtd $X did not start: $(tail -3 "$H/start.log")"
    for _ in $(seq 1 100); do
        [ -S "$H/run/libvirt/libvirt-sock" ] && break
        sleep 0.1
    done
    virsh -c "$(uri "$X")" hostname >/dev/null 2>&1 \
        || unavailable "libvirtd $X does not answer, see $H/log/libvirtd.log"
}

hosts_answer() {
    local X
    for X in "${HOSTS[@]}"; do
        alive "$STATE/host$X/libvirtd.pid" libvirtd || return 1
        virsh -c "$(uri "$X")" hostname >/dev/null 2>&1 || return 1
    done
}

write_hosts_json() {
    local g=$STATE/guest X sep=""
    {
        echo "{"
        echo "  \"hosts\": {"
        for X in "${HOSTS[@]}"; do
            local H=$STATE/host$X x
            x=$(echo "$X" | tr AB ab)
            printf '%s    "%s": {\n' "$sep" "$X"
            printf '      "hostname": "host%s.%s",\n' "$x" "$DOMAIN_SUFFIX"
            printf '      "uri": "%s",\n' "$(uri "$X")"
            printf '      "migrate_uri": "qemu+tcp://%s/system",\n' "${IP[$X]}"
            printf '      "ip": "%s",\n' "${IP[$X]}"
            printf '      "netns": "%s",\n' "$P$X"
            printf '      "host_uuid": "%s",\n' "$(cat "$H/host_uuid")"
            printf '      "libvirtd_pid": %s,\n' "$(cat "$H/libvirtd.pid")"
            printf '      "log_dir": "%s/log",\n' "$H"
            printf '      "serial_dir": "%s/log/qemu",\n' "$H"
            printf '      "qemu_run_dir": "%s/run/libvirt/qemu"\n' "$H"
            printf '    }'
            sep=$',\n'
        done
        printf '\n  },\n'
        echo "  \"guest\": {"
        echo "    \"kernel\": \"$g/vmlinuz\","
        echo "    \"initrd\": \"$g/initrd.gz\","
        echo "    \"domain_xml_template\": \"$g/domain.xml.in\","
        echo "    \"domain_xml_template_qmp2\": \"$g/domain-qmp2.xml.in\","
        echo "    \"name_placeholder\": \"@NAME@\","
        echo "    \"memory_mib\": $GUEST_MEM_MIB,"
        echo "    \"vcpus\": 1,"
        echo "    \"domain_type\": \"qemu\","
        echo "    \"serial_log\": \"{serial_dir}/{name}.serial\","
        echo "    \"heartbeat_regex\": \"^HB ([0-9]+) \""
        echo "  }"
        echo "}"
    } > "$STATE/hosts.json.tmp"
    mv "$STATE/hosts.json.tmp" "$STATE/hosts.json"
}

up() {
    rm -f "$STATE/unavailable"
    if [ -s "$STATE/hosts.json" ] && hosts_answer; then
        say "already running: $(uri A) and $(uri B)"
        return 0
    fi
    trap 'unavailable "unexpected failure at line $LINENO: $BASH_COMMAND"' ERR
    [ "$(id -u)" -eq 0 ] || unavailable "needs root (network namespaces, libvirtd)"
    case "$STATE/" in
        /run/*|/etc/libvirt/*|/var/lib/libvirt/*|/var/cache/libvirt/*|/var/log/libvirt/*)
            unavailable "WA_STATE_DIR must not be under a path the hosts bind-mount ($STATE)" ;;
    esac
    # half-started leftovers (crash, reboot): clean them first
    down >/dev/null 2>&1 || true
    install_packages
    build_guest
    say "guest built under $STATE/guest"
    # network: two namespaces joined by a veth pair
    : > "$STATE/netns"
    local X
    for X in "${HOSTS[@]}"; do
        ip netns add "$P$X" 2>"$STATE/netns.err" \
            || unavailable "cannot create network namespaces: $(cat "$STATE/netns.err")"
        echo "$P$X" >> "$STATE/netns"
        ip -n "$P$X" link set lo up
    done
    ip link add "${P}vA" type veth peer name "${P}vB" 2>"$STATE/netns.err" \
        || unavailable "cannot create a veth pair: $(cat "$STATE/netns.err")"
    for X in "${HOSTS[@]}"; do
        ip link set "${P}v$X" netns "$P$X"
        ip -n "$P$X" addr add "${IP[$X]}/24" dev "${P}v$X"
        ip -n "$P$X" link set "${P}v$X" up
    done
    rm -f "$STATE/netns.err"
    for X in "${HOSTS[@]}"; do
        start_host "$X"
        say "host $X: libvirtd pid $(cat "$STATE/host$X/libvirtd.pid"), netns $P$X, ${IP[$X]}"
    done
    # B must be reachable from A's namespace (peer-to-peer migration);
    # domcapabilities makes each host probe QEMU once (cached under
    # host<X>/cache, so a warm 'up' skips it)
    ip netns exec "${P}A" virsh -c "qemu+tcp://${IP[B]}/system" hostname \
        >/dev/null 2>&1 || unavailable "host B not reachable over TCP from host A"
    for X in "${HOSTS[@]}"; do
        virsh -c "$(uri "$X")" domcapabilities --virttype qemu >/dev/null 2>&1 &
    done
    wait
    write_hosts_json
    trap - ERR
    say "up: $STATE/hosts.json"
}

down() {
    local X H u d pf pid
    for X in "${HOSTS[@]}"; do
        H=$STATE/host$X
        u=$(uri "$X")
        if alive "$H/libvirtd.pid" libvirtd; then
            for d in $(virsh -c "$u" list --name 2>/dev/null); do
                virsh -c "$u" destroy "$d" >/dev/null 2>&1 && echo "destroyed $d on $X"
            done
        fi
        # QEMU outlives libvirtd: stop what our libvirtd left behind
        for pf in "$H"/run/libvirt/qemu/*.pid; do
            [ -f "$pf" ] || continue
            pid=$(head -1 "$pf")
            if [ -n "$pid" ] && grep -q '^qemu' "/proc/$pid/comm" 2>/dev/null \
                && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF "$STATE/guest/"; then
                kill "$pid" && echo "killed qemu $pid on $X"
            fi
        done
        stop_pid "libvirtd $X" "$H/libvirtd.pid" TERM libvirtd 10
    done
    if [ -f "$STATE/netns" ]; then
        while read -r d; do
            [ -n "$d" ] && ip netns del "$d" 2>/dev/null && echo "deleted netns $d"
        done < "$STATE/netns"
        rm -f "$STATE/netns"
    fi
    # a veth pair not yet moved into the namespaces
    ip link del "${P}vA" 2>/dev/null && echo "deleted veth ${P}vA"
    rm -f "$STATE/hosts.json"
    return 0
}

restart_libvirtd() {  # restart_libvirtd A|B: the daemon only
    local X=$1 H=$STATE/host$1
    case "$X" in A|B) ;; *) echo "no host $X" >&2; return 2 ;; esac
    stop_pid "libvirtd $X" "$H/libvirtd.pid" TERM libvirtd 10
    # running guests stay: libvirtd finds their QEMU again on start
    launch_libvirtd "$X"
    say "host $X: libvirtd restarted, pid $(cat "$H/libvirtd.pid")"
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    restart-libvirtd) restart_libvirtd "${2:-}" ;;
    *) echo "usage: $0 up|down|restart-libvirtd A|B" >&2; exit 2 ;;
esac
