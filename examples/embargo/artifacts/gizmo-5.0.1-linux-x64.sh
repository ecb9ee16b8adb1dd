#!/bin/sh
# gizmo 5.0.1 for linux-x64 (example artifact): fixes CVE-2026-4242 in its bundled libquill
echo "gizmo 5.0.1 installed"
