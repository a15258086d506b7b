#!/usr/bin/env bash
# Fetches Oxford 102 Flowers (8,189 photos, 102 classes; Nilsback & Zisserman 2008), checks the MD5 sums
# published with it, and unpacks it as class subfolders:
#   data/flowers/train/class_001/image_00001.jpg ...   (the official train + test splits, 7,169 images)
#   data/flowers/test/class_001/...                   (the official validation split, 1,020 images)
# Needs the internet. Offline, put 102flowers.tgz, imagelabels.mat and setid.mat into the download folder
# by hand and run it again. Usage: scripts/data/download_flowers.sh [DEST=data/flowers]
set -euo pipefail
dest=${1:-data/flowers}
base=https://www.robots.ox.ac.uk/~vgg/data/flowers/102
downloads="$dest/downloads"
mkdir -p "$downloads"

declare -A md5=(
  [102flowers.tgz]=52808999861908f626f3c1f4e79d11fa
  [imagelabels.mat]=e0620be6f572b9609742df49c70aed4d
  [setid.mat]=a5357ecc9cb78c4bef273ce3793fc85c
)

fetch() {
  local name=$1 out="$downloads/$1"
  if [ -f "$out" ] && [ "$(md5sum "$out" | cut -d' ' -f1)" = "${md5[$name]}" ]; then return 0; fi
  echo "download_flowers: fetching $base/$name"
  if command -v curl >/dev/null; then
    curl -fL --connect-timeout 15 -o "$out.part" "$base/$name" || fail_offline "$name"
  elif command -v wget >/dev/null; then
    wget -q --timeout=15 -O "$out.part" "$base/$name" || fail_offline "$name"
  else
    echo "download_flowers: error: neither curl nor wget is installed (apt-get install curl)" >&2
    exit 1
  fi
  mv "$out.part" "$out"
  local got
  got=$(md5sum "$out" | cut -d' ' -f1)
  if [ "$got" != "${md5[$name]}" ]; then
    echo "download_flowers: error: $out has MD5 $got, expected ${md5[$name]}; delete it and retry" >&2
    exit 1
  fi
}

fail_offline() {
  rm -f "$downloads/$1.part"
  echo "download_flowers: error: cannot download $base/$1 (this machine seems offline)." >&2
  echo "  Fetch 102flowers.tgz, imagelabels.mat and setid.mat elsewhere, copy them into $downloads/," >&2
  echo "  and run this script again; or train on the built-in set: ddpm data emoji --out data/emoji" >&2
  exit 1
}

for f in 102flowers.tgz imagelabels.mat setid.mat; do fetch "$f"; done

echo "download_flowers: unpacking"
tmp="$dest/.unpack"
rm -rf "$tmp" && mkdir -p "$tmp"
tar -xzf "$downloads/102flowers.tgz" -C "$tmp"
python3 "$(dirname "$0")/flowers_split.py" "$downloads/imagelabels.mat" "$downloads/setid.mat" \
  "$tmp/jpg" "$dest"
rm -rf "$tmp"
echo "download_flowers: done: $(find "$dest/train" -name '*.jpg' | wc -l) train and" \
     "$(find "$dest/test" -name '*.jpg' | wc -l) test images in $dest"
