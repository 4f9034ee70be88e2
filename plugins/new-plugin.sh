#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# new-plugin.sh KIND NAME [DEST]: start a plugin from plugins/enricher/template.
#   KIND: source, decoder, enricher, detector or sink; NAME: [a-z][a-z0-9_]*
#   DEST: the folder to create (default plugins/KIND/NAME in this tree)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 2 ] || { echo "usage: $0 KIND NAME [DEST]" >&2; exit 2; }
kind=$1 name=$2
case $kind in source|decoder|enricher|detector|sink) ;; *)
    echo "$0: unknown kind '$kind' (source, decoder, enricher, detector or sink)" >&2; exit 2;; esac
echo "$name" | grep -Eq '^[a-z][a-z0-9_]*$' || { echo "$0: name must match [a-z][a-z0-9_]*" >&2; exit 2; }
dest=${3:-$here/$kind/$name}
[ ! -e "$dest" ] || { echo "$0: $dest already exists" >&2; exit 1; }
KIND=$(echo "$kind" | tr a-z A-Z)
mkdir -p "$dest"
dec=0; srcf=0
[ "$kind" = decoder ] && dec=1
[ "$kind" = source ] && srcf=1
sed -e "s/template/$name/g" -e "s/TEMPLATE_/${KIND}_/g" \
    -e "s/^#define ${KIND}_KIND NS_KIND_ENRICHER/#define ${KIND}_KIND NS_KIND_$KIND/" \
    -e "s/^#define ${KIND}_DECODER 0/#define ${KIND}_DECODER $dec/" \
    -e "s/^#define ${KIND}_SOURCE 0 /#define ${KIND}_SOURCE $srcf /" \
    -e "s|^ \* enricher/$name| * $kind/$name|" \
    "$here/enricher/template/template.c" > "$dest/$name.c"
printf '%s\n' "# SPDX-License-Identifier: Apache-2.0" \
    "ns_add_plugin(KIND $kind NAME $name SOURCES $name.c)" > "$dest/CMakeLists.txt"
printf '%s\n' "# $kind/$name" "" "Describe what it does, its options (\`netscope describe $kind/$name --format md\`)," \
    "the records it reads and writes, and its counters." > "$dest/README.md"
echo "created $dest ($kind/$name); rebuild, then: netscope describe $kind/$name"
