#!/usr/bin/env bash
# Debian packages benchmarks/bench_robust.py needs: the wallpaper packages whose photographs are
# its benign test images (landscapes, cities, plants, animals: nothing else is ever used), and
# libmagic1, which AugLy (the image transformations) loads through python-magic.
# Installs only what is missing, so a machine that has them all is left untouched.
set -euo pipefail

# Wallpaper packages that hold photographs (or photo-like renders; the benchmark drops flat
# colours, gradients, logos and small images itself).
wallpapers=(
    gnome-backgrounds
    plasma-workspace-wallpapers
    mate-backgrounds
    ukui-wallpapers
    lomiri-wallpapers-20.04
    sway-backgrounds
    desktop-base
)

missing=()
for pkg in "${wallpapers[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
done
compgen -G '/usr/lib/*/libmagic.so.1' >/dev/null || missing+=(libmagic1)

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
source "$(dirname "$0")/apt-missing.sh"
install_missing "${missing[@]}"
