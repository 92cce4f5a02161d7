# A stand-in for nixpkgs, for tests and benchmarks on machines without a binary cache.
#
# Same calling convention as nixpkgs (`import nixpkgs { system; config; }`), with
# mkShell, a tiny stdenv and the packages the shipped profiles use. Every package is
# a derivation built by /bin/bash from host tools (a small script or a symlink in
# $out/bin), so evaluating and building it costs almost nothing.
{ system ? builtins.currentSystem, config ? { }, overlays ? [ ], ... }:
let
  hostPath = "/usr/local/bin:/usr/bin:/bin";

  lib = import ./lib.nix;

  # A derivation built by bash from `script` (which writes $out).
  mk = { name, script, pname ? null, version ? "0-standin", meta ? { }, passthru ? { }, extra ? { } }:
    let
      drv = derivation ({
        inherit name system;
        builder = "/bin/bash";
        # `; true`: Nix 2.8 here SIGKILLs about half of the builders whose last command bash
        # execs in place of itself (an external one such as chmod); a builtin last avoids it.
        args = [ "-e" "-c" (script + "\ntrue\n") ];
        outputs = [ "out" ];
        PATH = hostPath;
      } // extra);
    in
    drv // {
      pname = if pname == null then (builtins.parseDrvName name).name else pname;
      inherit version;
      meta = { license = { free = true; shortName = "free"; }; } // meta;
    } // passthru;

  # A package whose bin/ holds `tools`: each either a link to a host tool (when it
  # exists at build time) or a script printing `banner`.
  tool = { pname, version, tools, banner ? "${pname} ${version} (stand-in)", meta ? { }, passthru ? { }, host ? { } }:
    mk {
      inherit pname version meta passthru;
      name = "${pname}-${version}";
      extra = {
        inherit banner;
        tools = builtins.concatStringsSep " " tools;
        hostTools = builtins.concatStringsSep " " (map (t: "${t}=${host.${t}}") (builtins.attrNames host));
      };
      script = ''
        mkdir -p "$out/bin"
        for t in $tools; do
          printf '#!/bin/bash\n# stand-in for %s\necho "%s: %s"\n' "$t" "$t" "$banner" > "$out/bin/$t"
          chmod +x "$out/bin/$t"
        done
        for pair in $hostTools; do
          t=''${pair%%=*}; target=''${pair#*=}
          if [ -x "$target" ]; then ln -sf "$target" "$out/bin/$t"; fi
        done
      '';
    };

  # A package whose bin/ links each of `tools` to the host's own binary, found at build time
  # in the first of `dirs` (globs; the newest version first) that has it: real servers for
  # the services tests (Debian's postgresql and redis-server). Missing ones are left out.
  hostGlob = { pname, version, tools, dirs }:
    mk {
      inherit pname version;
      name = "${pname}-${version}";
      extra = { tools = builtins.concatStringsSep " " tools; dirs = builtins.concatStringsSep " " dirs; };
      script = ''
        mkdir -p "$out/bin"
        for t in $tools; do
          for pattern in $dirs; do
            found=$(ls -d $pattern/$t 2>/dev/null | sort -V | tail -n 1 || true)
            if [ -n "$found" ] && [ -x "$found" ]; then ln -sf "$found" "$out/bin/$t"; break; fi
          done
        done
      '';
    };
  pgTools = [ "postgres" "initdb" "pg_ctl" "psql" "createdb" "dropdb" "pg_isready" "pg_dump" "pg_restore" ];

  # Refuse an unfree package the way nixpkgs does, unless the config allows it.
  unfree = pkg:
    let
      allowed = (config.allowUnfree or false)
        || ((config.allowUnfreePredicate or (_: false)) pkg);
      refuse = throw ''
        Package ‘${pkg.name}’ has an unfree license (‘unfree’), refusing to evaluate.

        a) To temporarily allow unfree packages, set allowUnfree = true in the import of nixpkgs.
        b) To allow only this one, use allowUnfreePredicate = pkg: builtins.elem (lib.getName pkg) [ "${pkg.pname}" ];'';
    in
    if allowed then pkg else pkg // { drvPath = refuse; outPath = refuse; type = "derivation"; };

  unfreeMeta = { license = { free = false; shortName = "unfree"; fullName = "Unfree"; }; };

  # Host tools every shell gets, as nixpkgs' stdenv puts coreutils and friends on PATH.
  initialPath = mk {
    name = "standin-initial-path";
    extra.tools = builtins.concatStringsSep " " [
      "bash" "sh" "env" "cat" "ls" "cp" "mv" "rm" "mkdir" "rmdir" "ln" "chmod" "touch" "echo" "printf"
      "true" "false" "test" "sed" "grep" "awk" "head" "tail" "sort" "uniq" "wc" "tr" "cut" "date"
      "basename" "dirname" "readlink" "realpath" "mktemp" "sleep" "id" "uname" "find" "xargs" "tee"
      "diff" "tar" "gzip" "which" "stat" "pwd" "expr" "seq"
    ];
    script = ''
      mkdir -p "$out/bin"
      for t in $tools; do
        for d in /usr/local/bin /usr/bin /bin; do
          if [ -x "$d/$t" ]; then ln -sf "$d/$t" "$out/bin/$t"; break; fi
        done
      done
    '';
  };

  # a lib/ directory of host libraries, as nixpkgs' gcc-unwrapped.lib and zlib give: copies,
  # so a process that loads one maps a file under /nix/store (as with the real package set)
  hostLibs = pname: libs: mk {
    inherit pname;
    name = "${pname}-0-standin";
    extra.libs = builtins.concatStringsSep " " libs;
    script = ''
      mkdir -p "$out/lib"
      for l in $libs; do
        for d in /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib64 /usr/lib /lib; do
          if [ -e "$d/$l" ]; then cp -L "$d/$l" "$out/lib/$l"; break; fi
        done
      done
    '';
  };
  ccLib = hostLibs "gcc-lib" [ "libstdc++.so.6" "libgcc_s.so.1" ];

  # stdenv.cc: the package set's C/C++ compiler, a store wrapper around the host's gcc that
  # records each call (to $STANDIN_CC_LOG when set, and on stderr, i.e. in the build log)
  cc = mk {
    pname = "gcc-wrapper";
    name = "gcc-wrapper-0-standin";
    script = ''
      mkdir -p "$out/bin"
      for t in cc gcc c++ g++; do
        case $t in cc|gcc) real=/usr/bin/gcc ;; *) real=/usr/bin/g++ ;; esac
        {
          echo '#!/bin/bash'
          echo "# the stand-in's $t: records the call, then runs $real"
          echo 'line="standin-cc: $0 $*"'
          echo 'if [ -n "''${STANDIN_CC_LOG:-}" ]; then printf "%s\n" "$line" >> "$STANDIN_CC_LOG"; fi'
          echo 'printf "%s\n" "$line" >&2'
          echo "PATH=/usr/bin:/bin:\$PATH exec $real \"\$@\""
        } > "$out/bin/$t"
        chmod +x "$out/bin/$t"
      done
    '';
    passthru = { cc = { lib = ccLib; }; isGNU = true; };
  };

  stdenv = mk {
    name = "stdenv-standin";
    extra = { inherit initialPath; setupScript = builtins.readFile ./setup.sh; };
    script = ''
      mkdir -p "$out"
      printf '%s\n' "initialPath=$initialPath" > "$out/setup"
      printf '%s\n' "$setupScript" >> "$out/setup"
    '';
    passthru = {
      # stdenv.cc.cc.lib: where libstdc++ lives (binary Python wheels want it)
      inherit cc;
      isLinux = builtins.match ".*-linux" system != null;
      isDarwin = builtins.match ".*-darwin" system != null;
      hostPlatform = { inherit system; };
      shell = "/bin/bash";
      mkDerivation = args: mkShell args;
    };
  };

  # nixpkgs' mkShell: every attribute it does not know becomes an environment variable.
  mkShell =
    { name ? "nix-shell"
    , packages ? [ ]
    , inputsFrom ? [ ]
    , buildInputs ? [ ]
    , nativeBuildInputs ? [ ]
    , propagatedBuildInputs ? [ ]
    , propagatedNativeBuildInputs ? [ ]
    , shellHook ? ""
    , env ? { }
    , passthru ? { }
    , meta ? { }
    , ...
    }@attrs:
    let
      rest = builtins.removeAttrs attrs [
        "name" "packages" "inputsFrom" "buildInputs" "nativeBuildInputs" "propagatedBuildInputs"
        "propagatedNativeBuildInputs" "shellHook" "env" "passthru" "meta"
      ];
      fromInputs = attr: builtins.concatLists (map (d: d.${attr} or [ ]) inputsFrom);
      drv = derivation (rest // env // {
        inherit name system stdenv shellHook;
        builder = "/bin/bash";
        args = [ "-c" "echo 'This derivation is not meant to be built, only entered with nix-shell or nix develop.' >&2; exit 1" ];
        outputs = [ "out" ];
        nativeBuildInputs = packages ++ nativeBuildInputs ++ fromInputs "nativeBuildInputs";
        buildInputs = buildInputs ++ fromInputs "buildInputs";
        propagatedBuildInputs = propagatedBuildInputs;
        propagatedNativeBuildInputs = propagatedNativeBuildInputs;
      });
    in
    drv // {
      inherit meta;
      nativeBuildInputs = packages ++ nativeBuildInputs;
      inherit buildInputs;
    } // passthru;

  pythonPackage = pname: mk {
    inherit pname;
    name = "python3.12-${pname}-0-standin";
    extra.module = pname;
    script = ''
      d="$out/lib/python3.12/site-packages/$module"
      mkdir -p "$d"
      printf '__version__ = "0-standin"\nSTANDIN = True\n' > "$d/__init__.py"
    '';
  };

  # Python: the host interpreter under the names nixpkgs gives it.
  mkPython = version: pkgsAttr:
    let
      self = tool {
        pname = "python3";
        inherit version;
        tools = [ ];
        host = { python = "/usr/bin/python3"; python3 = "/usr/bin/python3"; "python${lib.versions.majorMinor version}" = "/usr/bin/python3"; };
        passthru = {
          pythonVersion = lib.versions.majorMinor version;
          sitePackages = "lib/python${lib.versions.majorMinor version}/site-packages";
          pkgs = pkgsAttr;
          withPackages = f: mkEnv "python3-${version}-env" ([ self ] ++ f pkgsAttr);
          interpreter = "${self}/bin/python3";
        };
      };
    in
    self;

  mkEnv = name: paths: mk {
    inherit name;
    extra.paths = paths;
    script = ''
      mkdir -p "$out/bin"
      for p in $paths; do
        if [ -d "$p/bin" ]; then for f in "$p"/bin/*; do ln -sf "$f" "$out/bin/"; done; fi
        if [ -d "$p/lib" ]; then mkdir -p "$out/lib"; cp -rs "$p/lib/." "$out/lib/" 2>/dev/null || true; fi
      done
    '';
  };

  python3Packages = builtins.listToAttrs (map (n: { name = n; value = pythonPackage n; }) [
    "numpy" "scipy" "pandas" "matplotlib" "pip" "virtualenv" "setuptools" "wheel" "requests"
    "psycopg" "psycopg2" "redis" "pytest" "ipython" "jupyterlab" "scikit-learn"
  ]);

  blas = tool { pname = "blas"; version = "3"; tools = [ ]; };

  pkgs = {
    inherit lib stdenv mkShell system config;
    mkShellNoCC = mkShell;
    stdenvNoCC = stdenv;
    buildEnv = { name, paths, ... }: mkEnv name paths;
    symlinkJoin = { name, paths, ... }: mkEnv name paths;
    writeShellScriptBin = name: text: mk {
      inherit name;
      extra.text = text;
      script = ''
        mkdir -p "$out/bin"
        printf '#!/bin/bash\n%s\n' "$text" > "$out/bin/${name}"
        chmod +x "$out/bin/${name}"
      '';
    };
    bashInteractive = tool { pname = "bash-interactive"; version = "5.2"; tools = [ ]; host = { bash = "/bin/bash"; sh = "/bin/bash"; }; };
    bash = pkgs.bashInteractive;
    coreutils = initialPath;
    hello = tool { pname = "hello"; version = "2.12"; tools = [ "hello" ]; banner = "Hello, world!"; };
    git = tool { pname = "git"; version = "2.44.0"; tools = [ ]; host = { git = "/usr/bin/git"; }; };
    gnumake = tool { pname = "gnumake"; version = "4.4"; tools = [ ]; host = { make = "/usr/bin/make"; }; };
    zlib = hostLibs "zlib" [ "libz.so.1" ];
    patchelf = tool { pname = "patchelf"; version = "0.18.0"; tools = [ ]; host = { patchelf = "/usr/bin/patchelf"; }; };
    jq = tool { pname = "jq"; version = "1.7"; tools = [ "jq" ]; };
    # uv: the binary the test command copies here (tests/run: .venv/bin/uv -> uv-bin, an ignored
    # file that the `path:` input still includes), else uv on the host's PATH
    uv = if builtins.pathExists ./uv-bin then mk {
      pname = "uv"; version = "0-standin"; name = "uv-0-standin";
      extra.src = ./uv-bin;
      script = ''
        mkdir -p "$out/bin"
        ln -s "$src" "$out/bin/uv"
      '';
    } else tool { pname = "uv"; version = "0-standin"; tools = [ ]; host = { uv = "/usr/local/bin/uv"; }; };
    curl = tool { pname = "curl"; version = "8.6.0"; tools = [ ]; host = { curl = "/usr/bin/curl"; }; };

    python3 = pkgs.python312;
    python311 = mkPython "3.11.9" pkgs.python311Packages;
    python312 = mkPython "3.12.4" pkgs.python312Packages;
    python313 = mkPython "3.13.0" pkgs.python313Packages;
    inherit python3Packages;
    python311Packages = python3Packages;
    python312Packages = python3Packages;
    python313Packages = python3Packages;
    inherit blas;
    lapack = blas;
    openblas = tool { pname = "openblas"; version = "0.3.27"; tools = [ ]; };

    postgresql = pkgs.postgresql_16;
    postgresql_15 = hostGlob { pname = "postgresql"; version = "15.7"; tools = pgTools; dirs = [ "/usr/lib/postgresql/*/bin" ]; };
    postgresql_16 = hostGlob { pname = "postgresql"; version = "16.3"; tools = pgTools; dirs = [ "/usr/lib/postgresql/*/bin" ]; };
    redis = hostGlob { pname = "redis"; version = "7.2.4"; tools = [ "redis-server" "redis-cli" ]; dirs = [ "/usr/bin" "/usr/local/bin" ]; };
    nodejs = tool { pname = "nodejs"; version = "20.12.2"; tools = [ "npm" "npx" ]; host = { node = "/usr/bin/node"; }; };
    nodejs_20 = pkgs.nodejs;
    nodejs_22 = pkgs.nodejs;
    yarn = tool { pname = "yarn"; version = "1.22.22"; tools = [ "yarn" ]; };
    chromium = tool { pname = "chromium"; version = "124.0.6367.78"; tools = [ "chromium" ]; };
    chromedriver = tool { pname = "chromedriver"; version = "124.0.6367.78"; tools = [ "chromedriver" ]; };

    # Unfree: refused unless config.allowUnfree or config.allowUnfreePredicate allows them.
    google-chrome = unfree (tool { pname = "google-chrome"; version = "124.0.6367.78"; tools = [ "google-chrome-stable" ]; meta = unfreeMeta; });
    vscode = unfree (tool { pname = "vscode"; version = "1.89.0"; tools = [ "code" ]; meta = unfreeMeta; });
    ngrok = unfree (tool { pname = "ngrok"; version = "3.9.0"; tools = [ "ngrok" ]; meta = unfreeMeta; });
    terraform = unfree (tool { pname = "terraform"; version = "1.8.2"; tools = [ "terraform" ]; meta = unfreeMeta; });
    slack = unfree (tool { pname = "slack"; version = "4.38.125"; tools = [ "slack" ]; meta = unfreeMeta; });
  };
in
pkgs
