# The few nixpkgs lib functions rendered profiles and the stand-in use.
let
  lib = rec {
    getName = x: if builtins.isString x then (builtins.parseDrvName x).name
      else x.pname or (builtins.parseDrvName x.name).name;
    getVersion = x: if builtins.isString x then (builtins.parseDrvName x).version
      else x.version or (builtins.parseDrvName x.name).version;
    elem = builtins.elem;
    optional = cond: x: if cond then [ x ] else [ ];
    optionals = cond: xs: if cond then xs else [ ];
    optionalString = cond: s: if cond then s else "";
    concatStringsSep = builtins.concatStringsSep;
    concatMapStringsSep = sep: f: xs: builtins.concatStringsSep sep (map f xs);
    makeBinPath = paths: builtins.concatStringsSep ":" (map (p: "${p}/bin") paths);
    makeSearchPath = sub: paths: builtins.concatStringsSep ":" (map (p: "${p}/${sub}") paths);
    attrByPath = path: default: set:
      if path == [ ] then set
      else if builtins.isAttrs set && builtins.hasAttr (builtins.head path) set
      then attrByPath (builtins.tail path) default set.${builtins.head path}
      else default;
    getAttrFromPath = path: set:
      attrByPath path (throw "cannot find attribute '${builtins.concatStringsSep "." path}'") set;
    splitString = sep: s: builtins.filter builtins.isString (builtins.split (escapeRegex sep) s);
    escapeRegex = s: builtins.replaceStrings
      [ "\\" "." "*" "+" "?" "(" ")" "[" "]" "{" "}" "^" "$" "|" ]
      [ "\\\\" "\\." "\\*" "\\+" "\\?" "\\(" "\\)" "\\[" "\\]" "\\{" "\\}" "\\^" "\\$" "\\|" ] s;
    mapAttrs = builtins.mapAttrs;
    attrNames = builtins.attrNames;
    attrValues = builtins.attrValues;
    genAttrs = names: f: builtins.listToAttrs (map (n: { name = n; value = f n; }) names);
    licenses = { unfree = { free = false; shortName = "unfree"; }; mit = { free = true; shortName = "mit"; }; };
    versions = {
      majorMinor = v: let parts = builtins.splitVersion v; in
        "${builtins.elemAt parts 0}.${builtins.elemAt parts 1}";
      major = v: builtins.elemAt (builtins.splitVersion v) 0;
    };
    systems.flakeExposed = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
  };
in
lib
