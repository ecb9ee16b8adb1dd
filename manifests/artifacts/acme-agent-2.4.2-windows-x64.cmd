REM acme-agent 2.4.2 emergency fix for windows-x64: CVE-2026-40001
echo acme-agent 2.4.2 installed
