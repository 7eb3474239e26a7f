#!/usr/bin/env bash
# Installs the system tools drimva uses as external oracles (DCMTK, dicom3tools,
# Orthanc with its DICOMweb plugin) and Chromium (the viewer scenarios in a real
# headless browser) when run as root on Debian/Ubuntu; otherwise says clearly what is missing.
# Never fails the setup for an optional tool: the tests that need one skip and say why.
set -u
need=()
command -v findscu >/dev/null 2>&1 || need+=(dcmtk)
command -v dciodvfy >/dev/null 2>&1 || need+=(dicom3tools)
# Orthanc: the tests start their own process (private config, free ports); the Debian
# package's service (4242/8042, /etc/orthanc) is never used by them.
{ command -v Orthanc >/dev/null 2>&1 || [ -x /usr/sbin/Orthanc ]; } || need+=(orthanc)
[ -e /usr/share/orthanc/plugins/libOrthancDicomWeb.so ] || need+=(orthanc-dicomweb)
[ -x /usr/bin/chromium ] || need+=(chromium)
python_ok=$(python3 -c 'import sys; print(int(sys.version_info >= (3, 11)))' 2>/dev/null || echo 0)
if [ "$python_ok" != 1 ]; then
  echo "drimva needs Python >= 3.11 as python3 (found: $(python3 --version 2>&1))" >&2
  exit 1
fi
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=(python3-venv)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "drimva setup: installing ${need[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq "${need[@]}" >/dev/null \
    || echo "drimva setup: apt-get could not install ${need[*]}; the tests that need them will skip and say so" >&2
else
  echo "drimva setup: missing system packages: ${need[*]}" >&2
  echo "  install them with: sudo apt-get install ${need[*]}" >&2
  echo "  (without them the dciodvfy / DCMTK / Orthanc oracle tests and the Chromium viewer tests skip and say so)" >&2
fi
exit 0
