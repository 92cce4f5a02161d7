"""Did-you-mean for package attribute names (keys and other words: onboard.core.schema.suggest).

The package names are a short list of attributes teams commonly use from nixpkgs (as
nixpkgs spells them in 24.11). A name missing from the list is not an error (the list is not the
package set): only a name that is one small slip away from a listed one is flagged.
"""

from __future__ import annotations

import difflib
import re
from typing import Optional

from onboard.core.schema.suggest import did_you_mean

__all__ = ["looks_mistyped", "one_edit_away", "did_you_mean", "COMMON_PACKAGES", "COMMON_PYTHON_PACKAGES"]


# Top-level nixpkgs attributes teams commonly put in a dev shell.
COMMON_PACKAGES: frozenset[str] = frozenset("""
python3 python39 python310 python311 python312 python313 pypy3 pypy310
python3Packages python310Packages python311Packages python312Packages python313Packages
poetry uv pipx pdm hatch ruff black mypy pyright isort pre-commit
nodejs nodejs_18 nodejs_20 nodejs_22 nodejs-slim nodePackages yarn pnpm bun deno typescript
go go_1_22 go_1_23 gopls golangci-lint delve
rustc cargo rustup rust-analyzer clippy rustfmt cargo-watch
jdk jdk8 jdk11 jdk17 jdk21 openjdk maven gradle kotlin scala sbt clojure leiningen
ruby ruby_3_2 ruby_3_3 bundler php php82 php83 composer perl lua luajit
elixir erlang rebar3 ghc cabal-install stack haskell-language-server ocaml opam dune_3 zig julia R
dotnet-sdk dotnet-sdk_8 swift
gcc clang llvm lld gdb lldb valgrind cmake gnumake ninja meson pkg-config autoconf automake libtool
bazel ccache binutils patchelf
postgresql postgresql_13 postgresql_14 postgresql_15 postgresql_16 postgresql_17 pgcli
mysql80 mariadb sqlite redis valkey memcached etcd minio rabbitmq-server apacheKafka
git git-lfs gh curl wget jq yq yq-go ripgrep fd fzf bat eza htop btop tmux neovim vim emacs nano
direnv nix-direnv just gnused gawk coreutils findutils gnugrep gnutar gzip xz zstd unzip zip
openssl openssh rsync httpie watchexec entr shellcheck shfmt tree file which less man
docker docker-compose podman kubectl kubernetes-helm kind minikube k9s terraform opentofu ansible
awscli2 google-cloud-sdk azure-cli packer vault
chromium chromedriver firefox geckodriver google-chrome vscode playwright-driver selenium-server-standalone
openblas blas lapack gfortran hdf5 netcdf fftw gsl suitesparse openmpi octave gnuplot graphviz
imagemagick ffmpeg pandoc texliveFull jupyter
zlib libffi libxml2 libxslt libjpeg libpng freetype readline ncurses stdenv glibc libiconv icu
boost protobuf grpc capnproto cacert tzdata
slack zoom-us discord spotify ngrok
""".split())

# python3XXPackages.<name>
COMMON_PYTHON_PACKAGES: frozenset[str] = frozenset("""
numpy scipy pandas matplotlib scikit-learn scikit-image seaborn statsmodels sympy networkx
jupyter jupyterlab notebook ipython ipykernel ipywidgets
pytest pytest-cov pytest-xdist pytest-asyncio hypothesis tox nox coverage
requests httpx aiohttp flask django fastapi uvicorn gunicorn starlette pydantic
sqlalchemy alembic psycopg2 psycopg asyncpg redis celery boto3 botocore
pyyaml toml tomli click typer rich textual black ruff mypy isort flake8 pylint
setuptools wheel pip virtualenv cython numba pillow opencv4 torch torchvision jax jaxlib
h5py netcdf4 xarray dask polars pyarrow beautifulsoup4 lxml tqdm attrs cryptography paramiko
jinja2 markdown docutils sphinx pygments openpyxl xlrd shapely geopandas pyproj
plotly bokeh altair biopython nltk spacy transformers tokenizers
""".split())

_PY_SET = re.compile(r"^python3\d*Packages$")


def looks_mistyped(attr: str) -> tuple[str, Optional[str]]:
    """("ok" | "case" | "typo", suggestion) for a package attribute path.

    "case": differs from a known name only in letter case (Nix names are case-sensitive,
    so this is certainly wrong). "typo": one small slip from a known name; the list is not
    complete, so this is worth a warning, not an error. Names that differ from a known one
    only in digits (python311 / python312, nodejs_20 / nodejs_22) are versions, not slips.
    """
    parts = attr.split(".")
    head = parts[0]
    verdict = _check(head, COMMON_PACKAGES)
    if verdict[0] != "ok":
        fixed = ".".join([verdict[1] or head] + parts[1:])
        return verdict[0], fixed
    if len(parts) == 2 and _PY_SET.match(head):
        verdict = _check(parts[1], COMMON_PYTHON_PACKAGES)
        if verdict[0] != "ok":
            return verdict[0], f"{head}.{verdict[1]}"
    return "ok", None


def _check(name: str, known: frozenset[str]) -> tuple[str, Optional[str]]:
    if name in known:
        return "ok", None
    for k in known:
        if k.lower() == name.lower():
            return "case", k
    if len(name) < 4:
        return "ok", None
    m = difflib.get_close_matches(name, known, n=1, cutoff=0.8)
    if not m:
        return "ok", None
    cand = m[0]
    if re.sub(r"\d", "", cand) == re.sub(r"\d", "", name):
        return "ok", None  # another version of a known package
    if _edit_distance(name, cand) > (1 if len(name) < 7 else 2):
        return "ok", None
    return "typo", cand


def one_edit_away(a: str, b: str) -> bool:
    """True when `a` becomes `b` with one letter added, dropped, changed or two swapped."""
    return a != b and abs(len(a) - len(b)) <= 1 and _edit_distance(a, b) == 1


def _edit_distance(a: str, b: str) -> int:
    """Damerau-Levenshtein (optimal string alignment): a swap of two letters counts 1."""
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]
