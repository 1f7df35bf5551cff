#!/usr/bin/env bash
# Debian packages the tests drive for real: Chromium (web UI tests); dosfstools, mtools, e2fsprogs,
# fdisk, ntfs-3g and ewf-tools (building FAT, ext4, partitioned, NTFS and E01 disk images); qemu-utils,
# udftools and genisoimage (VMDK/VHD/VHDX/QCOW2, UDF and UDF/ISO bridge images); The Sleuth Kit's tools; Java 17+ (Spark).
# For benchmarks/bench_api.py (HMA beside kaitiaki): wrk (the load generator), libjemalloc2 (HMA's
# workers run with it preloaded, as its Dockerfile does) and libpq-dev (HMA's psycopg2 builds against it).
# Installs only what is missing, so a machine that has them all is left untouched.
set -euo pipefail

missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v mkfs.fat >/dev/null || missing+=(dosfstools)
command -v mcopy >/dev/null || missing+=(mtools)
command -v mke2fs >/dev/null || missing+=(e2fsprogs)
command -v fls >/dev/null || missing+=(sleuthkit)
command -v sfdisk >/dev/null || missing+=(fdisk)
command -v mkntfs >/dev/null || missing+=(ntfs-3g)
command -v ewfacquire >/dev/null || missing+=(ewf-tools)
command -v qemu-img >/dev/null || missing+=(qemu-utils)
command -v mkudffs >/dev/null || missing+=(udftools)
command -v genisoimage >/dev/null || missing+=(genisoimage)
command -v wrk >/dev/null || missing+=(wrk)
compgen -G '/usr/lib/*/libjemalloc.so.2' >/dev/null || missing+=(libjemalloc2)
[ -e /usr/include/postgresql/libpq-fe.h ] || missing+=(libpq-dev)

java_major() { java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1; }
if ! command -v java >/dev/null || [ "$(java_major)" -lt 17 ]; then
    missing+=(openjdk-17-jre-headless)
fi

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
source "$(dirname "$0")/apt-missing.sh"
install_missing "${missing[@]}"
echo "java $(java_major), $(chromium --version 2>/dev/null || echo 'chromium missing')"
