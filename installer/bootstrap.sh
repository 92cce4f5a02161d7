#!/bin/sh
# onboard's bootstrap: from a bare machine to a running onboard with one line.
#
#   curl -fsSL https://YOUR-TEAM-HOST/onboard/installer/bootstrap.sh | sh -s -- --profile web
#   sh installer/bootstrap.sh                 # from a checkout of your team's onboard repo
#   sh installer/bootstrap.sh --uninstall     # remove onboard itself again
#
# Plain POSIX sh (dash runs it). It installs onboard into its own virtualenv with pinned,
# hash-checked dependencies, writes a small launcher, and records everything it created in a
# marker file; `--uninstall` (or the last step of `onboard uninstall`) removes exactly that.
# The whole script is one function called on the last line, so a download cut short runs nothing.

usage() {
	cat <<'EOF'
Usage: sh bootstrap.sh [OPTIONS]
       curl -fsSL URL/bootstrap.sh | sh -s -- [OPTIONS]

Install onboard for this user and start it with the team's default profile.

Options:
  --profile NAME       start onboard with this profile (default: the team config's
                       default_profile)
  --from SOURCE        where onboard comes from:
                         DIR    a checkout of the team's onboard repo (default: the
                                checkout holding this script, when it is one)
                         FILE or URL ending in .whl   a wheel (URL#sha256=HEX checks it)
                         index  the package index (pip's configuration decides which);
                                ONBOARD_PACKAGE names the requirement (default: onboard)
  --team-config FILE   the team's onboard.yaml (default: onboard.yaml in the checkout,
                       else onboard looks from the current directory upwards)
  --python PATH        the Python 3.10+ to build the virtualenv with (default: the first of
                       python3, python3.14 ... python3.10 on PATH that is new enough)
  --find-links DIR     also look for wheels in DIR (repeatable; for offline installs)
  --lock FILE          a requirements lock with --hash lines (default: the one built into
                       this script, the same as installer/requirements.lock)
  --no-run             install only; do not start onboard afterwards
  --uninstall          remove onboard's virtualenv, launcher and marker, and the
                       directories this script created (only when empty)
  --keep-changes       with --uninstall: remove onboard even though the changes it made
                       (Nix, shell hooks, ...) are still recorded; without it, --uninstall
                       stops and tells you to run `onboard uninstall` first
  --verbose            show pip's output
  -h, --help           show this help

What it creates (and nothing else):
  $XDG_DATA_HOME/onboard/venv              the virtualenv (default ~/.local/share/onboard/venv)
  $XDG_DATA_HOME/onboard/bootstrap.marker  what this script created
  ~/.local/bin/onboard                     the launcher (ONBOARD_BIN_DIR moves it)
Running it again upgrades in place: same virtualenv, onboard reinstalled.

Environment:
  ONBOARD_BOOTSTRAP_PIP_ARGS  extra arguments for every pip install (e.g. --no-index)
  ONBOARD_BIN_DIR             where the launcher goes (default ~/.local/bin)
  ONBOARD_PACKAGE             the requirement installed with --from index

Exit codes: 0 ok, 1 failed (the message says what to do), 2 usage error.
EOF
}

PROG=onboard-bootstrap
SIGNATURE="# onboard launcher written by onboard's installer/bootstrap.sh"
NL='
'

say() { printf '%s\n' "$PROG: $*"; }
warn() { printf '%s\n' "$PROG: warning: $*" >&2; }
die() { printf '%s\n' "$PROG: error: $*" >&2; exit 1; }
die_usage() { printf '%s\n' "$PROG: $*" "Run with --help for the options." >&2; exit 2; }

# Quote a string for sh: 'it'\''s'.
shquote() {
	_s=$1 _q=""
	while :; do
		case $_s in
			*\'*) _q="$_q${_s%%\'*}'\\''"; _s=${_s#*\'} ;;
			*) break ;;
		esac
	done
	printf "'%s'" "$_q$_s"
}

# The pinned, hash-checked dependency lock (written by installer/make_lock.py).
embedded_lock() {
	cat <<'LOCK'
# BEGIN requirements.lock
# onboard's dependencies, pinned and hash-checked:
#   pip install --require-hashes -r requirements.lock
# Written by installer/make_lock.py from installer/requirements.in (do not edit by hand).
# Resolved with Python 3.10; hashes cover CPython 3.10-3.14 wheels for
# Linux (glibc and musl; x86_64 and aarch64) and macOS, and the source archives of binary packages.
certifi==2026.10.19.post1 \
    --hash=sha256:1324c476b4811eff41a8bc2122cd0bbd4d9c7234c725446d99ab1612b3a7fdd2
charset-normalizer==3.5.3 \
    --hash=sha256:01b35bec964b92b89bdf94adf931d2e80a15f1c7b93bf850b4430cca23f7a2a2 \
    --hash=sha256:0ca2da4a505fae7ef95922f8d48235b2e49ff8f10f4edcc0481e5f6526ba3841 \
    --hash=sha256:1b2704f4651539eab50ba104a975b96c3cd5246011aa0755d2dd71ac12546644 \
    --hash=sha256:256b434b2860ef9da1cb6a5fd4ebb5d600936668e50e2035858948b96b068ecd \
    --hash=sha256:2a6f937e0b70133d1f826d0a253331b6fe1a4c874808cc12e16f2fb8177042f4 \
    --hash=sha256:2b7797a5b0cb197f118fd13b41c14c5a3c38dd625a87c1da58a3066cf53254fd \
    --hash=sha256:366f5efe95a6149ecbcebf779c2594a6a4ff6fc116402826c72ed0eccd6aabe9 \
    --hash=sha256:3ce4e4587e451ebc7d9899a7a1f539ea30a3c712d7bc8e0d256923c697fd5dcc \
    --hash=sha256:499e4bbeb1e79b14756311a1d12cb88112f244423e152d80981d9bcaff3279fa \
    --hash=sha256:61e32fdbf56f4cd25a1efa451c8b5fe886fc5e00143ccaacafdf21f301fad059 \
    --hash=sha256:656b9744bac4493561d28b56d7d646afd7a8471254ef7004d849aa8368020037 \
    --hash=sha256:70f65dd0c2ed79ea2d9776096e9c7d25e398c2c03eb31877753598d201d91784 \
    --hash=sha256:8231365b03b702b516aad35c9515694177ac31c9dc6240326f07308a4c45c708 \
    --hash=sha256:84356c7b7ddf090e3e4692cb99fc820e6189b5f6662ca7e8589f41095cc8efca \
    --hash=sha256:885f202d6e4e2298bea9802ffc6d8c7dc45394199a8dd9e1492f05fe32dce311 \
    --hash=sha256:8baddc6349faf49edae4d1322f12b681b9e86acacd01874457c997437ef4ccaa \
    --hash=sha256:90b1ff6cb9c7a204a3b79b1b0ed6ac8a1d8fed3b6dc69e50ae5de0f358ee81d4 \
    --hash=sha256:92bf85ecec3ad6374ae50d870bd1deb34de12bc1158b5fd09036d4c435c6f58c \
    --hash=sha256:92ddc32b6a1508ea145f4f7995e00666db454b8fd3e2cae6c2ecbde4f4d44616 \
    --hash=sha256:96387278c3b17bc1170f80693398d0babac7b41df128ced8e27588a7155d95b2 \
    --hash=sha256:9eba4613d45b49196af04a5cbadfc5e9379ba94aac85184b72cb1107ad31af0d \
    --hash=sha256:a250888753faa289e2997962fbb17c4960cbdb58575533ca6fceee68c224bdff \
    --hash=sha256:b6dad86d938104f9d43404029e5fc8392f82762d171933be4f192a6008bffa53 \
    --hash=sha256:e34f591669498a03cd70993b0a79b9f0ef40c4e6f8232466bac33c42f0c15742 \
    --hash=sha256:e5e4785d8a0adeadfbdf75f4efc357911842674651cbafd7e97f69b11ec3cbc6 \
    --hash=sha256:ee9de080e8d6221bbe4ba2667367b1cee0f47a53f60ffc5e431b698cd2f2b214 \
    --hash=sha256:fd0341b9dea133d187d7c5a2cd7e21ae6449a7b68ea8c2454f9cf77def11ec1b
idna==3.20 \
    --hash=sha256:ab7ae7122974553370f0bdb919e1a960b2cd1bc1ef0276416d896db81c14582c
linkify-it-py==2.2.0 \
    --hash=sha256:3adc40eb5af300b2605fcfdb968c24e1d780a90f1f2221af7c15e5111e94d443
markdown-it-py==4.3.0 \
    --hash=sha256:7aa1511a46c39138de78d9eba92ce47e63124d8003fc98b3a351909e04239efa
mdit-py-plugins==0.7.0 \
    --hash=sha256:7f8e30403f3dd8bfe3afcdcbc6e61066d3f2e714167507b9c26eb385ec399353
mdurl==0.1.2 \
    --hash=sha256:84008a41e51615a49fc9966191ff91509e3c40b939176e643fd50a5c2196b8f8
platformdirs==4.12.4 \
    --hash=sha256:78bfb9db2a8471ed7eebe3c3c932da413911042994e699b384fbb4493fa872d7
psutil==7.2.2 \
    --hash=sha256:0746f5f8d406af344fd547f1c8daa5f5c33dbc293bb8d6a16d80b4bb88f59372 \
    --hash=sha256:076a2d2f923fd4821644f5ba89f059523da90dc9014e85f8e45a5774ca5bc6f9 \
    --hash=sha256:1a7b04c10f32cc88ab39cbf606e117fd74721c831c98a27dc04578deb0c16979 \
    --hash=sha256:b0726cecd84f9474419d67252add4ac0cd9811b04d61123054b9fb6f57df6e9e \
    --hash=sha256:b58fabe35e80b264a4e3bb23e6b96f9e45a3df7fb7eed419ac0e5947c61e47cc \
    --hash=sha256:ed0cace939114f62738d808fdcecd4c869222507e266e574799e9c0faa17d486 \
    --hash=sha256:fd04ef36b4a6d599bbdb225dd1d3f51e00105f6d48a28f006da7f9822f2606d8
Pygments==2.21.0 \
    --hash=sha256:2363c69b61c4a97c838da3b130dcd6468f4848992b21a82f2a63ec34377137d9
PyYAML==6.0.4 \
    --hash=sha256:1088ad740f50c13178dad16fbc2fa1f634c791d42c7009fdb390e38e5b90b788 \
    --hash=sha256:132c3c7c37a8e6f334921b05cfea5d26e241d792dcbb4db0462129d25ca53b43 \
    --hash=sha256:180ac792c958c2173f6e4467c55ae5f73ab1a9a624ee29fc7095c56d5e3a4055 \
    --hash=sha256:41b4669c3a8fd5750e594dff59d3e62d40e321fec467b50449603710ed0a68f3 \
    --hash=sha256:45e37dd647db9d67b757444c74060c064ace5fdaa08f42bf4fda3812275d423e \
    --hash=sha256:49e38a95e24738908ea852e61df0abc58d1e4d4f974ccdb2386eaee412bedc67 \
    --hash=sha256:4a329472db6c8858ebd94f2214a54c8bff8f035a6cc7af1ab39cc1b33a5f0e56 \
    --hash=sha256:4d1e8d6e345b4b4424a05a11e699e999e65a88f422f73636f8a0b354bf219ffa \
    --hash=sha256:4d30c2f186612bd2f9f07c08a4c96721af59cfc8da3ec7cb27dfa2834e8bb019 \
    --hash=sha256:4d3bbc5e8a84a5a6775adecac786f489510a7159b1c343d6f31426d888cfdd6e \
    --hash=sha256:50588147ab2c6a59b5f990a4905db80899a6c2bd197e046a6201f1e67587e794 \
    --hash=sha256:52460c6dd874b22d49fda228fac59da74d7a7b06175ffcc80bfa3ba5389d7f73 \
    --hash=sha256:54c23934cf166bb2090d73d82b1388aadb1cead5e73885223dcfa4a459a22d43 \
    --hash=sha256:61eef2f08e977b725f37a8d1663f5a222c6f09207ac0794030d5fca062e7c96e \
    --hash=sha256:622aa875fa6533f25fedcffe23079357d65a690d462200afed5d8e9d0e01ebee \
    --hash=sha256:71bb5b87465d88d1dfc577115af6d435bff9b26f2512936f610c26aa55966028 \
    --hash=sha256:730788375056c43d3ac15bd894c9cd2fb7a931a38b302f408620c64b3ef176ed \
    --hash=sha256:7335809813ec838d9cd334b1744cda33deb141c9ef23a9c0df371c37980d3851 \
    --hash=sha256:78be5a1b05a5d1fd46d0290393e5deeb581fa617585462c1b84f7c6b0cb1e489 \
    --hash=sha256:84e97378010f3da8daf673b82d39ed638098d236a1b760d61c0c1348a642bd70 \
    --hash=sha256:88a089e6424a8a256321270620d5a4328ad5227fb2061b07d33f596894336914 \
    --hash=sha256:93bfb2459195406a518e2f487a9bbf01df240175f31e06f5a252ac6734c7bbf0 \
    --hash=sha256:9d4211f080920629a90c9e31c51e326fb70cfae38f18d4128b9913c23642bace \
    --hash=sha256:a56491babf0d976625807953bd192dd9de973fccb3270e77b1a795b152a26175 \
    --hash=sha256:c24097c0462f66358c99dc83d3e1850e005f6293cfa1df1edb243428da1668bf \
    --hash=sha256:c604dc2613c417130479cdd6e55c2faa691b6365aa82b3dafddfcecc2eaf1ac7 \
    --hash=sha256:e24bf71af8a432d7808fabff134d38dfe16d3cbb41f2873bb4b1e42422de0a1a \
    --hash=sha256:e39017e1cef43d03b2ba427f60213e4b36dbc6fb092235fa3de3a510ce064d3c \
    --hash=sha256:ed9b957abb12f6ffcd92d5db32fa3ffd4e4a8423d80ddd51b4efa63b42f6a76b \
    --hash=sha256:f1a4a85b419f5cb6470dd4be5f766bc59532f11b9c22c076b58a0348f05dca5f \
    --hash=sha256:f5c410f9e2ffc9286279a46f2e8c107edaf3b1123510af59c828a9c15b23c9db
requests==2.34.2 \
    --hash=sha256:2a0d60c172f83ac6ab31e4554906c0f3b3588d37b5cb939b1c061f4907e278e0
rich==15.0.0 \
    --hash=sha256:33bd4ef74232fb73fe9279a257718407f169c09b78a87ad3d296f548e27de0bb
setuptools==84.2.1 \
    --hash=sha256:ca140b45d5325a9478f880e351484f62fef15f336462e449ca0c03c873d589c2
textual==8.2.8 \
    --hash=sha256:267375fd402dc8d981457212efa71f0e3365fd17bba144ba9bb3ed7563cb374a
tomli==2.5.0 \
    --hash=sha256:1245a6638fc4bb0a60af38a7d45413db34a13842027c77597c712c998c62fdf0 \
    --hash=sha256:1f4a40d03fb9f63424f0979855bdeaf44dd7696b8d59501822c10ed30ba532df \
    --hash=sha256:21e4cae4114aba25aa0d4f85cdf486d290fb35c0954d7bba536248da64d43066 \
    --hash=sha256:264507556cd8b8c8e7c6ee037cdf443a463f03f4c958e57195e3d369711b8ff6 \
    --hash=sha256:32a7b79ac57a2e83670ce329ccf675798bc5a2094783a63676866b70503f2e2b \
    --hash=sha256:463b16086865b97facd8d0b3fb4cb7c544e3f58d2a69dc3113d6db9653fdb043 \
    --hash=sha256:521345fd1f19d45b8df87657aaa38b6f2ca3800059fadf428e7ebf479a383646 \
    --hash=sha256:5d8bac3d603c97e6854424e5b2b5b741bdbde387e09f162fb0446812b4a8362b \
    --hash=sha256:61ea1ebe1e55a34ea8199cc8dbff398d35027b82271c8ac4802fd3a1fd5b1bcc \
    --hash=sha256:6cf74416bdc94ae458b14e37286c1073081850ac8459a00d0c5efef5d44294c6 \
    --hash=sha256:6e95c7614e705bfe2b04b27aa124adec59752d15813df37e2156747cab3a006b \
    --hash=sha256:7ac2027d37c3afbdf4bdd377f2676f6f1d2122a5be1f1137b49dced590b37e75 \
    --hash=sha256:7ad1ea345759240d6463efa0ed1c704402752e49aa21476620738d74d72d8aa1 \
    --hash=sha256:86665cee9c4835b7a7f1e8ec2c719b5258d4dc782887aded5a8ae7352a96843b \
    --hash=sha256:943276cf269e0071948d9ff697159c1735e623c1151d88abb09b74659ef0cbea \
    --hash=sha256:96243987194634bd411066ce40c952e108f86af04db533ecd8ac3ff2a85b1885 \
    --hash=sha256:9b03d7dc168353b4132965bde20feceabaa470e570c6f59660dfae59b1f9eeb3 \
    --hash=sha256:9ebf8d19b17bd0daeb7b7dec81a946a439b753942fd0210d6e96c532249eea6b \
    --hash=sha256:bbaefc84548d754be821bba7c4141c4787dda182f9e77f2f87b71213529efa7b \
    --hash=sha256:bf0b5e8e0f68ebb494356e577c06c139161efd8d3b9050f93b39b7c26cc54ff0 \
    --hash=sha256:c414be4ed9d3cac80c42e348fa5a956117d1a48227f48026e31f59cb4a7671eb \
    --hash=sha256:c4dc1c1781f2f716de763d1e9a7b34c6a894e167e291c7c5d16c72f7a9538545 \
    --hash=sha256:d3182ee2d887e507bd67319a0a61105d1dd33facc111329559a233b772c1a105 \
    --hash=sha256:d7e369fd63331746182360977b1892bfc215476a30d61612d732425311639f56 \
    --hash=sha256:ed53f7e89bb04f6d9e8e7799112360b0c4d5cbff067de0814c98c37c39b920f7 \
    --hash=sha256:eff8babca5a7999bc137acbc7482a8b7e17ffca5075ab41f5d770ab408c7bfef
typing_extensions==4.16.0 \
    --hash=sha256:481caa481374e813c1b176ada14e97f1f67a4539ce9cfeb3f350d78d6370c2e8
urllib3==2.8.0 \
    --hash=sha256:0cf3cae568d36aa9576b28dfb35f11328f1cb974ca7647d9475ebb86c75ac6e3
# END requirements.lock
LOCK
}

# ---------------------------------------------------------------------------------------
# How to get Python 3.10+ on this machine, by distribution.
os_field() { # os_field KEY -> value from os-release (empty when absent)
	_f=${ONBOARD_OS_RELEASE:-/etc/os-release}
	[ -r "$_f" ] || _f=/usr/lib/os-release
	[ -r "$_f" ] || return 0
	while IFS='=' read -r _k _v || [ -n "$_k" ]; do
		if [ "$_k" = "$1" ]; then
			_v=${_v#\"}; _v=${_v%\"}; _v=${_v#\'}; _v=${_v%\'}
			printf '%s' "$_v"
			return 0
		fi
	done <"$_f"
}

python_hint() { # prints the exact lines that get a new enough Python with venv support
	if [ "$(uname -s 2>/dev/null)" = Darwin ]; then
		echo "    brew install python@3.12"
		echo "  (no Homebrew? get it from https://brew.sh, or Python from https://www.python.org/downloads/macos/)"
		return
	fi
	_id=$(os_field ID) _like=$(os_field ID_LIKE) _ver=$(os_field VERSION_ID)
	_major=${_ver%%.*}
	case " $_id $_like " in
		*" nixos "*)
			echo "    nix-shell -p python3    # then run this installer inside that shell" ;;
		*" ubuntu "*)
			if [ "$_id" = ubuntu ] && [ -n "$_major" ] && [ "$_major" -lt 22 ] 2>/dev/null; then
				echo "    sudo add-apt-repository -y ppa:deadsnakes/ppa"
				echo "    sudo apt-get update && sudo apt-get install -y python3.11 python3.11-venv"
				echo "  (Ubuntu $_ver ships a Python older than 3.10; 22.04 and newer ship one)"
			else
				echo "    sudo apt-get update && sudo apt-get install -y python3 python3-venv"
			fi ;;
		*" debian "*)
			if [ "$_id" = debian ] && [ -n "$_major" ] && [ "$_major" -lt 12 ] 2>/dev/null; then
				echo "    Debian $_ver ships a Python older than 3.10: upgrade to Debian 12 or newer,"
				echo "    or install Python 3.10+ from https://www.python.org/downloads/source/"
			else
				echo "    sudo apt-get update && sudo apt-get install -y python3 python3-venv"
			fi ;;
		*" rhel "* | *" centos "* | *" rocky "* | *" almalinux "* | *" ol "*)
			echo "    sudo dnf install -y python3.11" ;;
		*" fedora "*)
			echo "    sudo dnf install -y python3" ;;
		*" arch "* | *" manjaro "* | *" endeavouros "*)
			echo "    sudo pacman -S --needed python" ;;
		*" suse "* | *" opensuse "* | *opensuse*)
			echo "    sudo zypper install -y python311" ;;
		*" alpine "*)
			echo "    sudo apk add python3" ;;
		*" void "*)
			echo "    sudo xbps-install -S python3" ;;
		*" gentoo "*)
			echo "    sudo emerge --ask dev-lang/python" ;;
		*)
			echo "    your distribution's python3 package (3.10 or newer), or https://www.python.org/downloads/" ;;
	esac
}

venv_hint() { # the package that adds the venv module (Debian and Ubuntu split it off)
	_id=$(os_field ID) _like=$(os_field ID_LIKE)
	case " $_id $_like " in
		*" debian "* | *" ubuntu "*)
			echo "    sudo apt-get install -y python$1-venv" ;;
		*)
			echo "    your distribution's package for Python's venv and ensurepip modules" ;;
	esac
}

find_python() { # sets PY and PY_VERSION, or explains how to get Python and exits 1
	if [ -n "$OPT_PYTHON" ]; then
		_cands=$OPT_PYTHON
	else
		_cands="python3 python3.14 python3.13 python3.12 python3.11 python3.10"
	fi
	PY="" _old=""
	for _c in $_cands; do
		_p=$(command -v "$_c" 2>/dev/null) || continue
		[ -n "$_p" ] || continue
		if "$_p" -c 'import sys; sys.exit(sys.version_info < (3, 10))' </dev/null >/dev/null 2>&1; then
			PY=$_p
			break
		fi
		_v=$("$_p" -c 'import sys; print("%d.%d" % sys.version_info[:2])' </dev/null 2>/dev/null) || _v="not runnable"
		_old="$_old $_p ($_v)"
	done
	if [ -z "$PY" ]; then
		{
			if [ -n "$OPT_PYTHON" ]; then
				echo "$PROG: error: --python $OPT_PYTHON is not a Python 3.10 or newer${_old:+ (found:$_old)}."
			else
				echo "$PROG: error: onboard needs Python 3.10 or newer, and none is on PATH"
				echo "  (looked for: $_cands)${_old:+${NL}  too old:$_old}"
			fi
			echo "Get it with:"
			python_hint
			echo "then run this installer again (or point it at an interpreter with --python PATH)."
		} >&2
		exit 1
	fi
	PY_VERSION=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])' </dev/null)
	if ! "$PY" -c 'import venv, ensurepip' </dev/null >/dev/null 2>&1; then
		{
			echo "$PROG: error: $PY ($PY_VERSION) cannot create virtualenvs: its venv/ensurepip modules are missing."
			echo "Add them with:"
			venv_hint "$PY_VERSION"
			echo "then run this installer again."
		} >&2
		exit 1
	fi
}

# ---------------------------------------------------------------------------------------
# Paths, the marker, and directories created on the way.
setup_paths() {
	[ -n "${HOME:-}" ] || die "HOME is not set"
	case ${XDG_DATA_HOME:-} in /*) DATA_HOME=$XDG_DATA_HOME ;; *) DATA_HOME=$HOME/.local/share ;; esac
	case ${XDG_STATE_HOME:-} in /*) STATE_HOME=$XDG_STATE_HOME ;; *) STATE_HOME=$HOME/.local/state ;; esac
	case ${ONBOARD_BIN_DIR:-} in /*) BIN_DIR=$ONBOARD_BIN_DIR ;; "") BIN_DIR=$HOME/.local/bin ;;
		*) die_usage "ONBOARD_BIN_DIR must be an absolute path, not '$ONBOARD_BIN_DIR'" ;; esac
	ONBOARD_DATA=$DATA_HOME/onboard
	VENV=$ONBOARD_DATA/venv
	MARKER=$ONBOARD_DATA/bootstrap.marker
	LAUNCHER=$BIN_DIR/onboard
	case ${ONBOARD_STATE_DIR:-} in /*) RECEIPTS=$ONBOARD_STATE_DIR/receipts ;;
		*) RECEIPTS=$STATE_HOME/onboard/receipts ;; esac
}

read_marker() { # sets M_VENV, M_LAUNCHER, M_SOURCE, M_CREATED (newline-separated)
	M_VENV="" M_LAUNCHER="" M_SOURCE="" M_CREATED=""
	[ -f "$MARKER" ] || return 0
	while IFS= read -r _line; do
		case $_line in
			venv=*) M_VENV=${_line#venv=} ;;
			launcher=*) M_LAUNCHER=${_line#launcher=} ;;
			source=*) M_SOURCE=${_line#source=} ;;
			created=*) M_CREATED="$M_CREATED${_line#created=}$NL" ;;
		esac
	done <"$MARKER"
}

# Record the missing ancestors of a directory (outermost first) in CREATED; do not create them.
note_missing_dirs() {
	_d=$1 _missing=""
	while [ -n "$_d" ] && [ "$_d" != / ] && [ ! -d "$_d" ]; do
		_missing="$_d$NL$_missing"
		_d=${_d%/*}
	done
	_oldifs=$IFS; IFS=$NL; set -f
	for _m in $_missing; do
		case "$NL$CREATED" in *"$NL$_m$NL"*) ;; *) CREATED="$CREATED$_m$NL" ;; esac
	done
	IFS=$_oldifs; set +f
}

write_if_changed() { # write_if_changed FILE CONTENT [MODE]: atomic, and untouched when equal
	if [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; then
		return 0
	fi
	_tmp="$1.tmp.$$"
	printf '%s\n' "$2" >"$_tmp" || die "cannot write $1"
	[ -z "${3:-}" ] || chmod "$3" "$_tmp"
	mv -f "$_tmp" "$1" || die "cannot write $1"
}

marker_text() {
	printf '%s\n' "# What onboard's installer/bootstrap.sh created for this user. \`onboard uninstall\`"
	printf '%s\n' "# or \`sh bootstrap.sh --uninstall\` removes exactly this (directories only when empty)."
	printf '%s\n' "format=1" "venv=$VENV" "launcher=$LAUNCHER" "source=$SOURCE_DESC"
	_oldifs=$IFS; IFS=$NL; set -f
	for _c in $CREATED; do printf '%s\n' "created=$_c"; done
	IFS=$_oldifs; set +f
}

launcher_text() {
	printf '%s\n' "#!/bin/sh" "$SIGNATURE" "# (\`onboard uninstall\` removes it together with $VENV)"
	if [ -n "$TEAM_CONFIG" ]; then
		printf '%s\n' "ONBOARD_DEFAULT_TEAM_CONFIG=\${ONBOARD_DEFAULT_TEAM_CONFIG:-$(shquote "$TEAM_CONFIG")}" \
			"export ONBOARD_DEFAULT_TEAM_CONFIG"
	fi
	printf '%s\n' "exec $(shquote "$VENV/bin/onboard") \"\$@\""
}

launcher_is_ours() {
	[ -f "$1" ] && [ ! -L "$1" ] || return 1
	case $(cat "$1") in *"$SIGNATURE"*) return 0 ;; esac
	return 1
}

is_checkout() { [ -f "$1/pyproject.toml" ] && [ -f "$1/onboard/__init__.py" ]; }

abspath() { (cd "$1" 2>/dev/null && pwd -P); }

# ---------------------------------------------------------------------------------------
pip_in_venv() {
	_quiet=-q
	[ "$OPT_VERBOSE" = 1 ] && _quiet=""
	set -f
	# shellcheck disable=SC2086  # the extra arguments are meant to be split into words
	"$VENV/bin/python" -m pip --disable-pip-version-check --no-cache-dir --no-input $_quiet "$@" \
		$FIND_LINKS ${ONBOARD_BOOTSTRAP_PIP_ARGS:-} </dev/null
	_rc=$?
	set +f
	return $_rc
}

choose_source() { # sets SOURCE_KIND (checkout|wheel|index), SOURCE and SOURCE_DESC
	_from=$OPT_FROM
	if [ -z "$_from" ]; then
		if [ -n "$SCRIPT_CHECKOUT" ]; then
			_from=$SCRIPT_CHECKOUT
		elif [ -n "$M_SOURCE" ] && { [ -d "$M_SOURCE" ] || [ "$M_SOURCE" != "${M_SOURCE#*://}" ]; }; then
			_from=$M_SOURCE # re-run without a source: upgrade from where it came from last time
		else
			_from=index
		fi
	fi
	case $_from in
		index)
			SOURCE_KIND=index SOURCE=${ONBOARD_PACKAGE:-onboard} SOURCE_DESC=index ;;
		http://* | https://* | file://*)
			SOURCE_KIND=wheel SOURCE=$_from SOURCE_DESC=$_from ;;
		*)
			if [ -d "$_from" ]; then
				_abs=$(abspath "$_from")
				is_checkout "$_abs" || die "--from $_from is a directory but not a checkout of onboard (no pyproject.toml and onboard/__init__.py there)"
				SOURCE_KIND=checkout SOURCE=$_abs SOURCE_DESC=$_abs
			elif [ -f "$_from" ]; then
				case $_from in *.whl) ;; *) die "--from $_from: a file must be a wheel (.whl)" ;; esac
				_abs="$(abspath "$(dirname "$_from")")/${_from##*/}"
				SOURCE_KIND=wheel SOURCE=$_abs SOURCE_DESC=$_abs
			else
				die "--from $_from: no such directory or file (give a checkout directory, a .whl file or URL, or 'index')"
			fi ;;
	esac
}

install_onboard() {
	case $SOURCE_KIND in
		checkout)
			# Build from a clean copy: no build/ or *.egg-info left in the checkout, and no stale
			# files from an earlier build can slip into the wheel.
			mkdir "$TMP/src"
			for _f in pyproject.toml setup.py setup.cfg MANIFEST.in README.md README.rst LICENSE LICENSE.txt; do
				[ ! -f "$SOURCE/$_f" ] || cp "$SOURCE/$_f" "$TMP/src/"
			done
			cp -R "$SOURCE/onboard" "$TMP/src/onboard"
			pip_in_venv install --no-deps --no-build-isolation --force-reinstall "$TMP/src" ;;
		wheel)
			pip_in_venv install --no-deps --force-reinstall "$SOURCE" ;;
		index)
			pip_in_venv install --no-deps --force-reinstall --upgrade "$SOURCE" ;;
	esac
}

team_default_profile() { # prints the team config's default profile; 3 = the config is invalid
	"$VENV/bin/python" -c '
import sys
try:
    from onboard.core.schema import SchemaError
    from onboard.core.teamconfig import load_team_config
except ImportError:
    sys.exit(0)
try:
    team = load_team_config()
except SchemaError as exc:
    sys.stderr.write(str(exc) + "\n")
    sys.exit(3)
if team is not None and team.default_profile:
    print(team.default_profile)
' </dev/null
}

path_advice() {
	case ":${PATH:-}:" in *":$BIN_DIR:"*) return 0 ;; esac
	_shown=$BIN_DIR
	case $BIN_DIR in "$HOME"/*) _shown="\$HOME/${BIN_DIR#"$HOME"/}" ;; esac
	say "$BIN_DIR is not on your PATH, so 'onboard' is not found by name yet. Add it:"
	echo "    bash, zsh, sh:  echo 'export PATH=\"$_shown:\$PATH\"' >> ~/.profile   (log in again)"
	echo "    fish:           fish_add_path $_shown"
	echo "  until then run it as $LAUNCHER"
}

do_install() {
	find_python
	read_marker
	# Preflight: refuse before changing anything when something here is not ours.
	if [ -n "$M_VENV" ] && [ "$M_VENV" != "$VENV" ]; then
		die "an earlier install lives in $M_VENV (see $MARKER); run with --uninstall first, or set XDG_DATA_HOME as it was"
	fi
	if [ -e "$VENV" ] && [ -z "$M_VENV" ]; then
		die "$VENV exists but was not created by this installer (no $MARKER); move it away and run again"
	fi
	if [ -e "$LAUNCHER" ] || [ -L "$LAUNCHER" ]; then
		launcher_is_ours "$LAUNCHER" ||
			die "$LAUNCHER exists and was not written by this installer; move it away (or set ONBOARD_BIN_DIR) and run again"
	fi
	choose_source
	if [ -n "$OPT_TEAM_CONFIG" ]; then
		[ -f "$OPT_TEAM_CONFIG" ] || die "--team-config $OPT_TEAM_CONFIG: no such file"
		TEAM_CONFIG="$(abspath "$(dirname "$OPT_TEAM_CONFIG")")/${OPT_TEAM_CONFIG##*/}"
	elif [ "$SOURCE_KIND" = checkout ] && [ -f "$SOURCE/onboard.yaml" ]; then
		TEAM_CONFIG=$SOURCE/onboard.yaml
	fi
	if [ -n "$OPT_LOCK" ]; then
		[ -f "$OPT_LOCK" ] || die "--lock $OPT_LOCK: no such file"
		LOCK=$OPT_LOCK
	else
		LOCK=$TMP/requirements.lock
		embedded_lock >"$LOCK"
	fi

	say "Python: $PY ($PY_VERSION)"
	say "source: $SOURCE_DESC"
	# Write-ahead: the marker names everything before it exists, so a run cut short can be undone.
	CREATED=$M_CREATED
	note_missing_dirs "$ONBOARD_DATA"
	note_missing_dirs "$BIN_DIR"
	mkdir -p "$ONBOARD_DATA" || die "cannot create $ONBOARD_DATA"
	write_if_changed "$MARKER" "$(marker_text)"
	mkdir -p "$BIN_DIR" || die "cannot create $BIN_DIR"

	if [ -d "$VENV" ] && ! "$VENV/bin/python" -c '' </dev/null >/dev/null 2>&1; then
		say "virtualenv $VENV is broken (its Python is gone?): creating it again"
		rm -rf "$VENV"
	fi
	if [ -d "$VENV" ]; then
		say "virtualenv: $VENV (exists: upgrading in place)"
	else
		say "virtualenv: creating $VENV"
		"$PY" -m venv "$VENV" </dev/null || die "could not create the virtualenv $VENV with $PY"
	fi
	say "installing pinned, hash-checked dependencies"
	pip_in_venv install --require-hashes -r "$LOCK" ||
		die "pip could not install the pinned dependencies (above); check the network or proxy (HTTPS_PROXY), or pass --find-links DIR with the wheels, and run again"
	say "installing onboard from $SOURCE_DESC"
	install_onboard || die "pip could not install onboard from $SOURCE_DESC (see above)"
	if ! _check=$("$VENV/bin/python" -m pip --disable-pip-version-check check 2>&1 </dev/null); then
		warn "pip check found a problem in $VENV:${NL}$_check"
	fi

	write_if_changed "$LAUNCHER" "$(launcher_text)" 755
	_version=$("$LAUNCHER" --version </dev/null) || die "the installed onboard does not run: $LAUNCHER --version failed"
	say "installed $_version: $LAUNCHER"
	path_advice

	_profile=$OPT_PROFILE
	if [ -z "$_profile" ]; then
		_rc=0
		if [ -n "$TEAM_CONFIG" ]; then
			_profile=$(export ONBOARD_TEAM_CONFIG="$TEAM_CONFIG"; team_default_profile) || _rc=$?
		else
			_profile=$(team_default_profile) || _rc=$?
		fi
		if [ "$_rc" = 3 ]; then
			say "onboard is installed, but the team config has the problems above: fix them, then run 'onboard'."
			exit 1
		fi
	fi
	# profile names are letters, digits, . _ - (checked above, and by the team config's schema)
	_run="onboard"
	[ -z "$OPT_PROFILE" ] || _run="ONBOARD_TEAM_PROFILE=$OPT_PROFILE onboard"
	_headless="onboard install${_profile:+ --profile $_profile} --yes"
	if [ "$OPT_NO_RUN" = 1 ]; then
		say "done. Next: $_run   (or headless: $_headless)"
		return 0
	fi
	if [ -t 1 ] && [ -z "${CI:-}" ] && (: </dev/tty) 2>/dev/null; then
		say "starting onboard${_profile:+ with profile $_profile}"
		[ -z "$TEAM_CONFIG" ] || { ONBOARD_TEAM_CONFIG=$TEAM_CONFIG; export ONBOARD_TEAM_CONFIG; }
		[ -z "$OPT_PROFILE" ] || { ONBOARD_TEAM_PROFILE=$OPT_PROFILE; export ONBOARD_TEAM_PROFILE; }
		rm -rf "$TMP"
		trap - EXIT
		exec "$LAUNCHER" </dev/tty
	fi
	say "no terminal here, so onboard was not started. Next, in a terminal: $_run"
	say "  (or without the terminal UI: $_headless)"
}

do_uninstall() {
	read_marker
	if [ ! -f "$MARKER" ]; then
		if [ -e "$VENV" ] || launcher_is_ours "$LAUNCHER"; then
			die "found $VENV or $LAUNCHER but no $MARKER saying this installer created them; remove them by hand if they are onboard's"
		fi
		say "nothing to remove: onboard was not installed here by this installer (no $MARKER)"
		return 0
	fi
	set -- "$RECEIPTS"/*.json
	if [ -e "$1" ] && [ "$OPT_KEEP_CHANGES" != 1 ]; then
		{
			echo "$PROG: error: onboard's changes to this machine are still recorded ($# receipt(s) in $RECEIPTS)."
			echo "  Undo them and onboard itself with:   onboard uninstall"
			echo "  Or keep those changes and remove only onboard:   sh bootstrap.sh --uninstall --keep-changes"
		} >&2
		exit 1
	fi
	_removed=""
	_venv=${M_VENV:-$VENV}
	case $_venv in
		*/onboard/venv)
			if [ -d "$_venv" ]; then
				rm -rf "$_venv" || die "could not remove $_venv"
				_removed="$_removed $_venv"
			fi ;;
		*) warn "the marker names an unexpected virtualenv path '$_venv'; left alone" ;;
	esac
	_launcher=${M_LAUNCHER:-$LAUNCHER}
	if launcher_is_ours "$_launcher"; then
		rm -f "$_launcher" || die "could not remove $_launcher"
		_removed="$_removed $_launcher"
	elif [ -e "$_launcher" ]; then
		warn "$_launcher was not written by this installer; left alone"
	fi
	rm -f "$MARKER" || die "could not remove $MARKER"
	# Directories this script created, innermost first, only when empty.
	_rev=""
	_oldifs=$IFS; IFS=$NL; set -f
	for _c in $M_CREATED; do _rev="$_c$NL$_rev"; done
	for _c in $_rev; do
		if [ -d "$_c" ] && rmdir "$_c" 2>/dev/null; then _removed="$_removed $_c"; fi
	done
	IFS=$_oldifs; set +f
	say "onboard is uninstalled; removed:${_removed:- nothing else}"
}

main() {
	set -eu
	OPT_PROFILE="" OPT_FROM="" OPT_TEAM_CONFIG="" OPT_PYTHON="" OPT_LOCK="" OPT_NO_RUN=0
	OPT_VERBOSE=0 OPT_KEEP_CHANGES=0 ACTION=install FIND_LINKS="" TEAM_CONFIG=""
	while [ $# -gt 0 ]; do
		case $1 in
			-h | --help) usage; exit 0 ;;
			--no-run) OPT_NO_RUN=1 ;;
			--uninstall) ACTION=uninstall ;;
			--keep-changes) OPT_KEEP_CHANGES=1 ;;
			--verbose | -v) OPT_VERBOSE=1 ;;
			--profile=* | --from=* | --team-config=* | --python=* | --find-links=* | --lock=*)
				_opt=${1%%=*} _val=${1#*=}
				shift
				set -- "$_opt" "$_val" "$@"
				continue ;;
			--profile | --from | --team-config | --python | --find-links | --lock)
				if [ $# -lt 2 ] || [ -z "$2" ]; then die_usage "$1 needs a value"; fi
				case $1 in
					--profile) OPT_PROFILE=$2 ;;
					--from) OPT_FROM=$2 ;;
					--team-config) OPT_TEAM_CONFIG=$2 ;;
					--python) OPT_PYTHON=$2 ;;
					--lock) OPT_LOCK=$2 ;;
					--find-links)
						case $2 in *[[:space:]]*) die_usage "--find-links: a path without spaces, please" ;; esac
						FIND_LINKS="$FIND_LINKS --find-links $2" ;;
				esac
				shift ;;
			--) shift; [ $# -eq 0 ] || die_usage "unexpected argument: $1" ;;
			*) die_usage "unknown option: $1" ;;
		esac
		[ $# -eq 0 ] || shift
	done
	case $OPT_PROFILE in *[!A-Za-z0-9._-]*) die_usage "--profile: '$OPT_PROFILE' is not a profile name (letters, digits, . _ -)" ;; esac

	# The checkout holding this script, when run from a file inside one (not when piped).
	SCRIPT_CHECKOUT=""
	case $0 in
		*/*) _sd=${0%/*} ;;
		*) _sd=. ;;
	esac
	if [ -f "$0" ] && [ -f "$_sd/bootstrap.sh" ]; then
		_top=$(abspath "$_sd/..") || _top=""
		if [ -n "$_top" ] && is_checkout "$_top"; then SCRIPT_CHECKOUT=$_top; fi
	fi

	setup_paths
	if [ "$ACTION" = uninstall ]; then
		do_uninstall
		return 0
	fi
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/onboard-bootstrap.XXXXXX") || die "cannot create a temporary directory"
	trap 'rm -rf "$TMP"' EXIT
	trap 'exit 130' INT TERM
	do_install
}

main "$@"
