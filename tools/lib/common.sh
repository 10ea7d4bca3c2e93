# Shared by tools/quickstart and tools/test: the Debian packages the project
# needs, installed only when missing, and the build directories.
# shellcheck shell=bash

RP_PACKAGES=(
	meson ninja-build pkg-config gcc g++ python3
	liburing-dev libjemalloc-dev libcmocka-dev libbenchmark-dev
	valgrind nettle-dev clang libclang-rt-14-dev
	libtbb-dev libdw-dev
)

rp_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

rp_missing_packages() {
	local p
	for p in "${RP_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
			grep -q '^install ok installed$' || printf '%s\n' "$p"
	done
}

# Installs what is missing; installs nothing (and needs no network) when
# everything is there already.
rp_install_packages() {
	local missing sudo=()
	mapfile -t missing < <(rp_missing_packages)
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" -ne 0 ] && sudo=(sudo)
	echo "installing: ${missing[*]}"
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
		"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# rp_setup DIR [meson options...]: configure DIR once, reconfigure if the
# options changed, never download anything.
rp_setup() {
	local dir=$1
	shift
	if [ -f "$dir/build.ninja" ]; then
		meson configure "$dir" "$@" >/dev/null
	else
		meson setup "$dir" --wrap-mode=nodownload "$@" >/dev/null
	fi
}
