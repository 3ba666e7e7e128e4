#!/usr/bin/env bash
# Browser tests drive Debian's Chromium (Playwright's own browser download is not possible offline); printing
# (WeasyPrint, issue 8 item 6) needs the CJK fonts: Noto CJK, and HanaMin for rare characters of CJK
# Extensions B–G that Noto lacks. Installs what is missing when we are root with apt-get; otherwise exits 1
# when Chromium is missing (the browser tests skip; PDFs then fall back to whatever fonts exist).
set -u
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -d /usr/share/fonts/opentype/noto ] || missing+=(fonts-noto-cjk)
[ -d /usr/share/fonts/truetype/hanazono ] || missing+=(fonts-hanazono)
if [ "${#missing[@]}" -gt 0 ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing ${missing[*]} for the browser tests and printing…"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") >/dev/null 2>&1
fi
[ -x /usr/bin/chromium ]
