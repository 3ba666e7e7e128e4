#!/usr/bin/env bash
# Browser tests drive Debian's Chromium (Playwright's own browser download is not possible offline).
# Installs chromium + CJK fonts when missing and we are root with apt-get; otherwise exits 1 (tests skip).
set -u
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing chromium and fonts-noto-cjk for the browser tests…"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk) >/dev/null 2>&1
fi
[ -x /usr/bin/chromium ]
