REM acme-agent 2.4.1 for windows-x64: fixes CVE-2026-31337
echo acme-agent 2.4.1 installed
