# Sourced by the scripts that install Debian packages: install_missing PKG... installs what it is
# given (as root, or through sudo), quietly; the caller lists only what is missing.
install_missing() {
    echo "installing Debian packages: $*"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
