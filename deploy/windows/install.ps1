<#
.SYNOPSIS
Installs and starts one tickbar service on Windows under WinSW 2.x.

.DESCRIPTION
A plain console program registered with sc.exe does not answer the Windows service manager, so
the service runs under WinSW (github.com/winsw/winsw, MIT), a wrapper that does: it starts the
binary, restarts it on failure, rolls its logs, and stops it with Ctrl+C (the service flushes
and exits within 10 s) before killing it after <stoptimeout>. Layout under -Root (C:\tickbar):
bin\<service>.exe, <service>.toml, tickbar-<service>.exe (WinSW), tickbar-<service>.xml, logs\.
Run in an elevated PowerShell. Secrets go into tickbar-<service>.xml as <env> elements; the
script lets only Administrators, SYSTEM and the service's account (LocalService) read that file.

.EXAMPLE
.\install.ps1 -Service producer -Binary ..\..\target\release\producer.exe -WinSW $HOME\Downloads\WinSW-x64.exe
#>
param(
    [Parameter(Mandatory)] [ValidateSet("producer", "consumer", "query-api")] [string] $Service,
    [Parameter(Mandatory)] [string] $WinSW,
    [string] $Binary = "",
    [string] $Root = "C:\tickbar"
)
$ErrorActionPreference = "Stop"
$here = Split-Path -Parent $MyInvocation.MyCommand.Path
$id = "tickbar-$Service"

New-Item -ItemType Directory -Force -Path "$Root\bin", "$Root\logs" | Out-Null
if ($Binary) { Copy-Item $Binary "$Root\bin\$Service.exe" -Force }
if (-not (Test-Path "$Root\bin\$Service.exe")) {
    throw "$Root\bin\$Service.exe is missing: build it (cargo build --release -p $Service) and pass -Binary"
}
Copy-Item $WinSW "$Root\$id.exe" -Force
Copy-Item "$here\$id.xml" "$Root\$id.xml" -Force
if (-not (Test-Path "$Root\$Service.toml")) { Copy-Item "$here\..\config\$Service.toml" "$Root\$Service.toml" }

icacls "$Root\$id.xml" /inheritance:r /grant:r "Administrators:F" "SYSTEM:F" "LOCAL SERVICE:R" | Out-Null
icacls "$Root\logs" /grant "LOCAL SERVICE:(OI)(CI)M" | Out-Null

& "$Root\bin\$Service.exe" --config "$Root\$Service.toml" check-config | Out-Null
if ($LASTEXITCODE -ne 0) { throw "$Root\$Service.toml is not valid: run $Root\bin\$Service.exe --config $Root\$Service.toml check-config" }
& "$Root\$id.exe" install
if ($LASTEXITCODE -ne 0) { throw "WinSW could not install $id (exit $LASTEXITCODE)" }
& "$Root\$id.exe" start
if ($LASTEXITCODE -ne 0) { throw "WinSW could not start $id (exit $LASTEXITCODE); see $Root\logs" }
Write-Host "$id installed and started. Status: $Root\$id.exe status. Logs: $Root\logs."
Write-Host "Stop and remove: $Root\$id.exe stop; $Root\$id.exe uninstall"
